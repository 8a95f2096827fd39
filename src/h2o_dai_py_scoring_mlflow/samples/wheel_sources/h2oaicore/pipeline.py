"""The fitted pipeline: feature transforms and a boosted additive model.

Every transformed feature is binned; the model holds one value per bin (and one for missing)
per feature and class, so the margin is ``base + sum(table[feature][bin])``. Contributions are
exact: ``table[feature][bin] - mean_over_training`` per feature, and the bias is
``base + sum(means)``; they add up to the margin.
"""

import gzip
import importlib.resources
import pickle

import numpy as np
import pandas as pd

DATE_FORMAT = "%Y-%m-%d"
DATE_PARTS = ("year", "month", "dayofweek")


def load_fitted_model(package):
    """Read ``fitted_model.pickle`` (gzip-compressed) from the experiment package."""
    data = importlib.resources.files(package).joinpath("fitted_model.pickle").read_bytes()
    return pickle.loads(gzip.decompress(data))


def coerce_frame(frame, columns):
    """Input columns coerced to what the transforms expect: floats, strings or dates."""
    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        raise ValueError("Missing columns in input frame: %s" % ", ".join(missing))
    out = {}
    for column in columns:
        values = frame[column["name"]]
        role = column["role"]
        if role in ("numeric", "target"):
            out[column["name"]] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif role == "date":
            out[column["name"]] = pd.to_datetime(values, errors="coerce", format=DATE_FORMAT)
        else:
            text = values.astype(object)
            out[column["name"]] = text.where(text.notna(), None).map(
                lambda v: None if v is None else str(v)
            )
    return pd.DataFrame(out, index=frame.index)


def _date_part(series, part):
    if part == "year":
        return series.dt.year.astype("float64")
    if part == "month":
        return series.dt.month.astype("float64")
    return series.dt.day_of_week.astype("float64")


def _lag(coerced, feature):
    """Previous known target value of the same group, ordered by date (test-time augmentation)."""
    order = coerced.sort_values([feature["group"], feature["time"]], kind="mergesort")
    lagged = order.groupby(feature["group"], sort=False)[feature["source"]].shift(1)
    return lagged.reindex(coerced.index).astype("float64")


def transform(coerced, features):
    """The transformed feature matrix (rows x features), NaN for missing."""
    result = np.full((len(coerced), len(features)), np.nan)
    for j, feature in enumerate(features):
        kind = feature["kind"]
        source = coerced[feature["source"]]
        if kind == "numeric":
            values = source.to_numpy(dtype="float64")
        elif kind == "encoding":
            mapping = feature["mapping"]
            default = feature["default"]
            values = np.array(
                [np.nan if v is None else mapping.get(v, default) for v in source], dtype="float64"
            )
        elif kind == "date_part":
            values = _date_part(source, feature["part"]).to_numpy(dtype="float64")
        elif kind == "lag":
            values = _lag(coerced, feature).to_numpy(dtype="float64")
        else:
            raise ValueError("unknown transformer kind %r" % kind)
        result[:, j] = values
    return result


def bin_index(matrix, edges):
    """Bin numbers per feature; the last bin of each feature (len(edges) + 1) is 'missing'."""
    bins = np.empty(matrix.shape, dtype=np.int64)
    for j, feature_edges in enumerate(edges):
        column = matrix[:, j]
        index = np.searchsorted(np.asarray(feature_edges, dtype="float64"), column, side="right")
        index[np.isnan(column)] = len(feature_edges) + 1
        bins[:, j] = index
    return bins


class AdditiveModel:
    """Evaluate a fitted model dict on frames."""

    def __init__(self, model):
        self.model = model
        self.features = model["features"]
        self.tables = [
            [np.asarray(values, dtype="float64") for values in per_class]
            for per_class in model["tables"]
        ]
        self.base = np.asarray(model["base"], dtype="float64")
        self.expected = np.asarray(model["expected"], dtype="float64")

    def _bins(self, frame):
        coerced = coerce_frame(frame, self.model["columns"])
        matrix = transform(coerced, self.features)
        return matrix, bin_index(matrix, [f["edges"] for f in self.features])

    def terms(self, frame):
        """Per-row, per-class, per-feature table values: shape (rows, classes, features)."""
        _, bins = self._bins(frame)
        n_classes = self.base.shape[0]
        out = np.empty((bins.shape[0], n_classes, bins.shape[1]))
        for k in range(n_classes):
            for j in range(bins.shape[1]):
                out[:, k, j] = self.tables[k][j][bins[:, j]]
        return out

    def margins(self, terms):
        return self.base[None, :] + terms.sum(axis=2)

    def contributions(self, terms):
        """(rows, classes, features) contributions and (classes,) bias."""
        return terms - self.expected[None, :, :], self.base + self.expected.sum(axis=1)

    def transformed_frame(self, frame):
        matrix, _ = self._bins(frame)
        names = [f["name"] for f in self.features]
        return pd.DataFrame(matrix, columns=names, index=frame.index)
