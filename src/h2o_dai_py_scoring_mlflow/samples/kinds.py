"""The kinds of synthetic export the builder writes (light: the CLI lists them at start-up)."""

KINDS = ("binary", "multiclass", "regression", "timeseries")
