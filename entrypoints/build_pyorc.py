"""Entry point `build_pyorc`: put a CPython 3.8 pyorc wheel into a DAI export."""

import sys

from _bootstrap import import_library

import_library()

from h2o_dai_py_scoring_mlflow.entrypoint_cli import build_pyorc_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(build_pyorc_main(sys.argv[1:]))
