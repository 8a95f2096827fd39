"""The experiment's Scorer, with the API of a Driverless AI 1.10 Python scoring pipeline."""

import numpy as np
import pandas as pd
from h2oaicore.licensing import check_license
from h2oaicore.pipeline import AdditiveModel, load_fitted_model
from h2oaicore.systemutils import close_runtime, init_runtime


def _load_pickle_gz(d=__package__, p="fitted_model.pickle"):
    if p != "fitted_model.pickle":
        raise ValueError("unknown model file %r" % p)
    return load_fitted_model(d)


class Scorer:
    """Create once and reuse: construction checks the license and loads the model."""

    def __init__(self):
        self._model = _load_pickle_gz()
        self._log = init_runtime(self._model["experiment_key"])
        check_license(self._log)
        self._additive = AdditiveModel(self._model)
        self._log.info(
            "Loaded experiment %s (%s)", self._model["experiment_key"], self._model["kind"]
        )

    # ---- metadata -------------------------------------------------------------------------
    def get_column_names(self):
        return tuple(c["name"] for c in self._model["columns"])

    def get_transformed_column_names(self):
        return [f["name"] for f in self._model["features"]]

    def get_target_labels(self):
        labels = self._model["labels"]
        return None if labels is None else list(labels)

    def get_pred_columns(
        self, output_margin=False, pred_contribs=False, pred_contribs_original=False
    ):
        target = self._model["target"]
        labels = self._model["labels"]
        if pred_contribs:
            names = (
                list(self.get_column_names())
                if pred_contribs_original
                else self.get_transformed_column_names()
            )
            names = ["contrib_%s" % n for n in names] + ["contrib_bias"]
            if self._model["kind"] == "multiclass":
                return ["%s.%s" % (n, label) for label in labels for n in names]
            return names
        if labels is None:
            return [target]
        if self._model["kind"] == "binary" and output_margin:
            return ["%s.%s" % (target, labels[1])]
        return ["%s.%s" % (target, label) for label in labels]

    # ---- scoring --------------------------------------------------------------------------
    def score(self, row, output_margin=False, pred_contribs=False, **kwargs):
        frame = pd.DataFrame([list(row)], columns=list(self.get_column_names()))
        result = self.score_batch(
            frame, output_margin=output_margin, pred_contribs=pred_contribs, **kwargs
        )
        return [float(v) for v in result.iloc[0].tolist()]

    def score_batch(
        self,
        frame,
        apply_data_recipes=False,
        output_margin=False,
        pred_contribs=False,
        pred_contribs_original=False,
        fast_approx=False,
    ):
        if output_margin and pred_contribs:
            raise ValueError("output_margin and pred_contribs cannot both be True")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError("score_batch expects a pandas DataFrame, got %s" % type(frame).__name__)
        self._log.info(
            "Submitted 0 and Completed 0 non-identity feature engineering tasks out of %d total "
            "tasks (apply_data_recipes=%s, fast_approx=%s)",
            len(self._model["features"]),
            apply_data_recipes,
            fast_approx,
        )
        terms = self._additive.terms(frame)
        margins = self._additive.margins(terms)
        columns = self.get_pred_columns(output_margin, pred_contribs, pred_contribs_original)
        if pred_contribs:
            values = self._contributions(terms, pred_contribs_original)
        elif output_margin:
            values = margins
        else:
            values = self._link(margins)
        return pd.DataFrame(values, columns=columns)

    def _link(self, margins):
        kind = self._model["kind"]
        if kind == "binary":
            positive = 1.0 / (1.0 + np.exp(-margins[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        if kind == "multiclass":
            shifted = np.exp(margins - margins.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        return margins

    def _contributions(self, terms, original):
        contribs, bias = self._additive.contributions(terms)
        if original:
            sources = list(self.get_column_names())
            grouped = np.zeros((contribs.shape[0], contribs.shape[1], len(sources)))
            for j, feature in enumerate(self._model["features"]):
                grouped[:, :, sources.index(feature["source"])] += contribs[:, :, j]
            contribs = grouped
        blocks = [
            np.column_stack([contribs[:, k, :], np.full(contribs.shape[0], bias[k])])
            for k in range(contribs.shape[1])
        ]
        return np.column_stack(blocks)

    def fit_transform_batch(
        self, train_frame, valid_frame=None, test_frame=None, apply_data_recipes=False
    ):
        target = self._model["target"]
        results = []
        for frame in (train_frame, valid_frame, test_frame):
            if frame is None:
                results.append(None)
                continue
            if target not in frame.columns:
                raise ValueError("Target column %r must be present in every frame" % target)
            munged = self._additive.transformed_frame(frame)
            munged[target] = frame[target].values
            results.append(munged)
        return tuple(results)

    def finish(self):
        close_runtime(self._log)
