"""Fit the synthetic experiment: feature transforms, then gradient-boosted stumps per feature.

The result is a plain dict (lists, floats, strings) that the h2oaicore runtime in the export
evaluates with :mod:`h2oaicore.pipeline` - the very module used here to transform the training
data, so fitting and scoring cannot disagree. Fitting is deterministic.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pandas as pd

from .datasets import Dataset
from .wheel_sources.h2oaicore import pipeline as runtime

ROUNDS = 120
LEARNING_RATE = 0.15
MAX_BINS = 16
L2 = 1.0
SMOOTHING = 20.0


def _target_codes(dataset: Dataset) -> np.ndarray:
    """Classification: class index per row; regression and time series: the value."""
    values = dataset.train[dataset.target]
    if dataset.labels is None:
        codes: np.ndarray = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        return codes
    return np.array([dataset.labels.index(str(v)) for v in values], dtype="float64")


def _encoding(dataset: Dataset, column: str, y: np.ndarray, index: int) -> Dict[str, Any]:
    """Smoothed target encoding (binary, regression) or frequency encoding (multiclass)."""
    coerced = runtime.coerce_frame(dataset.train, [{"name": column, "role": "categorical"}])[column]
    known = coerced.notna().to_numpy()
    frame = pd.DataFrame({"level": coerced[known].to_numpy(), "y": y[known]})
    if dataset.kind == "multiclass":
        counts = frame["level"].value_counts(normalize=True)
        mapping = {str(k): round(float(v), 6) for k, v in counts.items()}
        return {"name": f"{index}_Freq:{column}", "default": 0.0, "mapping": mapping}
    prior = float(np.nanmean(y))
    stats = frame.groupby("level")["y"].agg(["sum", "count"])
    smoothed = (stats["sum"] + SMOOTHING * prior) / (stats["count"] + SMOOTHING)
    mapping = {str(k): round(float(v), 6) for k, v in smoothed.items()}
    return {"name": f"{index}_CVTE:{column}.0", "default": round(prior, 6), "mapping": mapping}


def _features(dataset: Dataset, y: np.ndarray) -> List[Dict[str, Any]]:
    features: List[Dict[str, Any]] = []
    for column in dataset.columns:
        index = len(features)
        if column.role == "numeric":
            features.append(
                {"name": f"{index}_{column.name}", "kind": "numeric", "source": column.name}
            )
        elif column.role == "categorical":
            feature = _encoding(dataset, column.name, y, index)
            features.append({**feature, "kind": "encoding", "source": column.name})
        elif column.role == "date":
            for part in runtime.DATE_PARTS:
                name = f"{len(features)}_Date:{column.name}:{part}"
                features.append(
                    {"name": name, "kind": "date_part", "source": column.name, "part": part}
                )
        elif column.role == "target":
            name = f"{index}_TargetLag:{dataset.group}.{column.name}.1"
            features.append(
                {
                    "name": name,
                    "kind": "lag",
                    "source": column.name,
                    "group": dataset.group,
                    "time": dataset.time,
                }
            )
    return features


def _edges(column: np.ndarray) -> List[float]:
    known = column[~np.isnan(column)]
    if known.size == 0:
        return []
    quantiles = np.quantile(known, np.linspace(0, 1, MAX_BINS + 1)[1:-1])
    return [float(e) for e in np.unique(np.round(quantiles, 6))]


def _initial_margin(kind: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    known = y[~np.isnan(y)]
    if kind in ("regression", "timeseries"):
        return np.array([float(known.mean())])
    if kind == "binary":
        p = float(np.clip(known.mean(), 1e-6, 1 - 1e-6))
        return np.array([np.log(p / (1 - p))])
    priors = np.array([np.mean(known == k) for k in range(n_classes)])
    logs = np.log(np.clip(priors, 1e-6, None))
    return np.asarray(logs - logs.mean())


def _gradients(
    kind: str, margins: np.ndarray, y: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    if kind in ("regression", "timeseries"):
        return y - margins[:, 0], np.ones_like(y)
    if kind == "binary":
        p = 1.0 / (1.0 + np.exp(-margins[:, 0]))
        return y - p, np.maximum(p * (1 - p), 1e-6)
    exp = np.exp(margins - margins.max(axis=1, keepdims=True))
    p = exp[:, k] / exp.sum(axis=1)
    return (y == k) - p, np.maximum(p * (1 - p), 1e-6)


def _best_stump(
    bins: np.ndarray, sizes: List[int], g: np.ndarray, h: np.ndarray
) -> tuple[int, np.ndarray]:
    """Feature and per-bin update of the stump with the largest gain; missing has its own leaf."""
    best_gain, best_feature, best_update = -1.0, 0, np.zeros(sizes[0])
    for j, size in enumerate(sizes):
        gs = np.bincount(bins[:, j], weights=g, minlength=size)
        hs = np.bincount(bins[:, j], weights=h, minlength=size)
        gm, hm = gs[-1], hs[-1]
        gl, hl = np.cumsum(gs[:-1]), np.cumsum(hs[:-1])
        gr, hr = gl[-1] - gl, hl[-1] - hl
        gains = gl**2 / (hl + L2) + gr**2 / (hr + L2) + gm**2 / (hm + L2)
        t = int(np.argmax(gains[:-1])) if size > 2 else 0
        if gains[t] > best_gain:
            update = np.where(np.arange(size - 1) <= t, gl[t] / (hl[t] + L2), gr[t] / (hr[t] + L2))
            best_gain, best_feature = float(gains[t]), j
            best_update = LEARNING_RATE * np.append(update, gm / (hm + L2))
    return best_feature, best_update


def fit_model(dataset: Dataset, *, experiment_key: str) -> Dict[str, Any]:
    """Fit and return the model dict stored in the export's ``fitted_model.pickle``."""
    y_all = _target_codes(dataset)
    features = _features(dataset, y_all)
    columns = [{"name": c.name, "role": c.role, "dtype": c.dtype} for c in dataset.columns]
    coerced = runtime.coerce_frame(dataset.train, columns)
    matrix = runtime.transform(coerced, features)
    known = ~np.isnan(y_all)
    matrix, y = matrix[known], y_all[known]
    for j, feature in enumerate(features):
        feature["edges"] = _edges(matrix[:, j])
    bins = runtime.bin_index(matrix, [f["edges"] for f in features])
    sizes = [len(f["edges"]) + 2 for f in features]

    n_classes = 1 if dataset.kind != "multiclass" else len(dataset.labels or ())
    base = _initial_margin(dataset.kind, y, n_classes)
    tables = [[np.zeros(size) for size in sizes] for _ in range(n_classes)]
    margins = np.tile(base, (len(y), 1))
    for _ in range(ROUNDS):
        for k in range(n_classes):
            g, h = _gradients(dataset.kind, margins, y, k)
            j, update = _best_stump(bins, sizes, g, h)
            tables[k][j] += update
            margins[:, k] += update[bins[:, j]]
    expected = [[float(t[bins[:, j]].mean()) for j, t in enumerate(per)] for per in tables]
    return {
        "experiment_key": experiment_key,
        "kind": dataset.kind,
        "target": dataset.target,
        "labels": list(dataset.labels) if dataset.labels is not None else None,
        "columns": columns,
        "features": features,
        "base": [float(b) for b in base],
        "tables": [[[round(float(v), 10) for v in t] for t in per] for per in tables],
        "expected": expected,
    }
