"""Entry point `score`: stream a CSV / Parquet / JSON lines file through a DAI scorer."""

import sys

from _bootstrap import import_library

import_library()

from h2o_dai_py_scoring_mlflow.entrypoint_cli import score_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(score_main(sys.argv[1:]))
