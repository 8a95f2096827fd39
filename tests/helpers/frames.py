"""Rows the tests score: unseen rows of the binary sample's columns with a missing value in every
column somewhere, and one row where every value is missing."""

from __future__ import annotations

import pandas as pd

from h2o_dai_py_scoring_mlflow.samples.datasets import make_dataset


def rows_with_missing_values(count: int, seed: int) -> pd.DataFrame:
    data = make_dataset("binary", rows=200, seed=seed).train.head(count)
    frame = data.drop(columns=[data.columns[-1]]).astype(object)
    for position in range(len(frame.columns)):
        frame.iloc[position, position] = None
    empty = pd.DataFrame([[None] * len(frame.columns)], columns=frame.columns)
    return pd.concat([frame, empty], ignore_index=True)
