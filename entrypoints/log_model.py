"""Entry point `log_model`: log a DAI scoring pipeline export as a Python 3.8 pyfunc model."""

import sys

from _bootstrap import import_library

import_library()

from h2o_dai_py_scoring_mlflow.entrypoint_cli import log_model_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(log_model_main(sys.argv[1:]))
