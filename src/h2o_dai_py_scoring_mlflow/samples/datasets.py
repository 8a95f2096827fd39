"""Realistic, deterministic training data for the synthetic exports.

Each kind has numeric, categorical and date columns with missing values, and a target that
really depends on them (plus noise), so the fitted model has something to learn.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from .kinds import KINDS

EXAMPLE_ROWS = 12


@dataclass(frozen=True)
class ColumnSpec:
    """An input column: its name, how the pipeline treats it, and its example.py type."""

    name: str
    role: str
    dtype: str


@dataclass(frozen=True)
class Dataset:
    """Training rows plus unseen example rows for one kind of experiment."""

    kind: str
    target: str
    labels: Optional[Tuple[str, ...]]
    columns: Tuple[ColumnSpec, ...]
    train: pd.DataFrame
    examples: pd.DataFrame
    group: Optional[str] = None
    time: Optional[str] = None


def _dates(rng: np.random.Generator, n: int, start: str, days: int) -> List[str]:
    origin = datetime.date.fromisoformat(start)
    offsets = rng.integers(0, days, size=n)
    return [(origin + datetime.timedelta(days=int(d))).isoformat() for d in offsets]


def _with_missing(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    out = values.astype(object)
    out[rng.random(len(values)) < rate] = None
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def _credit(rng: np.random.Generator, n: int) -> pd.DataFrame:
    limit = np.round(np.exp(rng.normal(11.8, 0.7, n)) / 10_000) * 10_000 + 10_000
    age = rng.integers(21, 76, n)
    pay = np.clip(np.round(rng.normal(0, 1.4, n)), -2, 8).astype(int)
    bill = np.round(rng.gamma(1.5, 30_000, n) - 2_000, 2)
    education = rng.choice(
        ["graduate school", "university", "high school", "others"], n, p=[0.35, 0.45, 0.15, 0.05]
    )
    region = rng.choice(["North East", "South, Coastal", "Mid West", "Pacific"], n)
    opened = _dates(rng, n, "2005-01-01", 16 * 365)
    year = np.array([int(d[:4]) for d in opened])
    return pd.DataFrame(
        {
            "LIMIT_BAL": _with_missing(rng, limit, 0.03),
            "AGE": age,
            "EDUCATION": _with_missing(rng, education, 0.04),
            "PAY_0": pay,
            "BILL_AMT1": _with_missing(rng, bill, 0.05),
            "region": region,
            "account_open_date": opened,
            "_risk": 0.75 * pay
            - 0.9 * (limit / 200_000)
            + 0.5 * (education == "high school")
            + 0.3 * (region == "South, Coastal")
            + 0.015 * (45 - age).clip(0)
            + 0.04 * (year - 2012)
            + bill / 250_000
            + rng.normal(0, 0.6, n),
        }
    )


def _binary(rng: np.random.Generator, n: int) -> Tuple[pd.DataFrame, Tuple[str, ...]]:
    frame = _credit(rng, n)
    risk = frame.pop("_risk").to_numpy(dtype=float)
    frame["default payment next month"] = np.where(rng.random(n) < _sigmoid(risk - 1.2), "1", "0")
    return frame, ("0", "1")


def _multiclass(rng: np.random.Generator, n: int) -> Tuple[pd.DataFrame, Tuple[str, ...]]:
    frame = _credit(rng, n)
    risk = frame.pop("_risk").to_numpy(dtype=float)
    cut = np.quantile(risk, [0.5, 0.8])
    band = np.where(
        risk < cut[0], "low risk", np.where(risk < cut[1], "medium, watch", "high risk")
    )
    flip = rng.random(n) < 0.08
    band[flip] = rng.choice(["low risk", "medium, watch", "high risk"], int(flip.sum()))
    frame["risk band"] = band
    return frame, ("high risk", "low risk", "medium, watch")


def _regression(rng: np.random.Generator, n: int) -> pd.DataFrame:
    sqft = np.round(rng.lognormal(7.5, 0.35, n))
    bedrooms = np.clip(np.round(sqft / 600 + rng.normal(0, 0.8, n)), 1, 7).astype(int)
    lot = np.round(rng.lognormal(8.8, 0.5, n))
    neighborhood = rng.choice(["Old Town", "River Side", "Hills, North", "Downtown", "Suburbs"], n)
    premium = pd.Series(neighborhood).map(
        {
            "Old Town": 30_000,
            "River Side": 55_000,
            "Hills, North": 90_000,
            "Downtown": 70_000,
            "Suburbs": 0,
        }
    )
    condition = rng.choice(["poor", "fair", "good", "excellent"], n, p=[0.1, 0.3, 0.45, 0.15])
    renovated = rng.random(n) < 0.25
    built = _dates(rng, n, "1950-01-01", 70 * 365)
    age = np.array([2021 - int(d[:4]) for d in built])
    price = (
        60_000
        + 140 * sqft
        + 9_000 * bedrooms
        + 4 * lot
        + premium.to_numpy()
        + 25_000 * renovated
        - 450 * age
        + pd.Series(condition)
        .map({"poor": -30_000, "fair": -8_000, "good": 0, "excellent": 35_000})
        .to_numpy()
        + rng.normal(0, 25_000, n)
    )
    return pd.DataFrame(
        {
            "sqft_living": sqft,
            "bedrooms": bedrooms,
            "lot_size": _with_missing(rng, lot, 0.06),
            "neighborhood": neighborhood,
            "condition": _with_missing(rng, condition, 0.03),
            "is_renovated": renovated,
            "built_date": built,
            "sale_price": np.round(price, 0),
        }
    )


def _timeseries(rng: np.random.Generator, n: int) -> pd.DataFrame:
    states = ["California", "New York", "Texas", "Florida", "Illinois"]
    weeks = max(n // len(states), 30)
    start = datetime.date(2012, 1, 2)
    frames = []
    for i, state in enumerate(states):
        level, noise = 1.5 + 0.4 * i, 0.0
        values = []
        for w in range(weeks):
            noise = 0.6 * noise + rng.normal(0, 0.25)
            season = 1.8 * np.cos(2 * np.pi * (w % 52) / 52.0)
            values.append(round(max(level + season + noise, 0.05), 4))
        dates = [(start + datetime.timedelta(weeks=w)).isoformat() for w in range(weeks)]
        frames.append(pd.DataFrame({"state": state, "week_start": dates, "unweighted_ili": values}))
    frame = pd.concat(frames, ignore_index=True)
    frame["unweighted_ili"] = _with_missing(rng, frame["unweighted_ili"].to_numpy(), 0.01)
    return frame


_INPUTS: Dict[str, Tuple[Tuple[str, str, str], ...]] = {
    "credit": (
        ("LIMIT_BAL", "numeric", "float64"),
        ("AGE", "numeric", "int32"),
        ("EDUCATION", "categorical", "object"),
        ("PAY_0", "numeric", "float32"),
        ("BILL_AMT1", "numeric", "float32"),
        ("region", "categorical", "object"),
        ("account_open_date", "date", "object"),
    ),
    "regression": (
        ("sqft_living", "numeric", "float32"),
        ("bedrooms", "numeric", "int32"),
        ("lot_size", "numeric", "float32"),
        ("neighborhood", "categorical", "object"),
        ("condition", "categorical", "object"),
        ("is_renovated", "categorical", "bool"),
        ("built_date", "date", "object"),
    ),
    "timeseries": (
        ("state", "categorical", "object"),
        ("week_start", "date", "object"),
        ("unweighted_ili", "target", "float32"),
    ),
}


def make_dataset(kind: str, *, rows: int, seed: int = 1234) -> Dataset:
    """Training rows and :data:`EXAMPLE_ROWS` unseen example rows for ``kind``."""
    rng = np.random.default_rng(seed)
    builders: Dict[str, Callable[[], Dataset]] = {
        "binary": lambda: _classification(kind, rng, rows, _binary, "default payment next month"),
        "multiclass": lambda: _classification(kind, rng, rows, _multiclass, "risk band"),
        "regression": lambda: _split(
            kind, _regression(rng, rows + EXAMPLE_ROWS), "sale_price", None, "regression"
        ),
        "timeseries": lambda: _forecast(_timeseries(rng, rows)),
    }
    if kind not in builders:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return builders[kind]()


def _classification(
    kind: str,
    rng: np.random.Generator,
    rows: int,
    make: Callable[[np.random.Generator, int], Tuple[pd.DataFrame, Tuple[str, ...]]],
    target: str,
) -> Dataset:
    frame, labels = make(rng, rows + EXAMPLE_ROWS)
    return _split(kind, frame, target, labels, "credit")


def _split(
    kind: str, frame: pd.DataFrame, target: str, labels: Optional[Tuple[str, ...]], inputs: str
) -> Dataset:
    columns = tuple(ColumnSpec(*spec) for spec in _INPUTS[inputs])
    train = frame.iloc[:-EXAMPLE_ROWS].reset_index(drop=True)
    examples = frame.iloc[-EXAMPLE_ROWS:].drop(columns=[target]).reset_index(drop=True)
    return Dataset(kind, target, labels, columns, train, examples)


def _forecast(frame: pd.DataFrame) -> Dataset:
    """Hold out the last weeks of every state: two with known values (history), then the future."""
    columns = tuple(ColumnSpec(*spec) for spec in _INPUTS["timeseries"])
    horizon = EXAMPLE_ROWS // 4
    last_weeks = sorted(frame["week_start"].unique())[-horizon:]
    held = frame["week_start"].isin(last_weeks)
    train = frame[~held].reset_index(drop=True)
    examples = frame[
        held & frame["state"].isin(["California", "Texas", "Florida", "New York"])
    ].copy()
    future = examples["week_start"] > last_weeks[1]
    examples.loc[future, "unweighted_ili"] = None
    examples = examples.sort_values(["state", "week_start"]).reset_index(drop=True)
    return Dataset(
        "timeseries", "unweighted_ili", None, columns, train, examples, "state", "week_start"
    )
