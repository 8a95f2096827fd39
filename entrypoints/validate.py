"""Entry point `validate`: check a logged model (or an export) for what Serving would fail on."""

import sys

from _bootstrap import import_library

import_library()

from h2o_dai_py_scoring_mlflow.entrypoint_cli import validate_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(validate_main(sys.argv[1:]))
