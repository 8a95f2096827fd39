"""The prototype's ``python -m h2o_dai_py_scoring_mlflow.mlflow_driverless.deployment EXPORT
[--artifact-path P] ...``: logs the export as ``dai-mlflow log-model EXPORT ...`` does (same
options, same output), after one line on stderr naming that command."""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from ..cli import main

NOTICE = (
    "dai-mlflow: `python -m h2o_dai_py_scoring_mlflow.mlflow_driverless.deployment` is now "
    "`dai-mlflow log-model` (same options); running that."
)


def run(argv: Optional[Sequence[str]] = None) -> int:
    print(NOTICE, file=sys.stderr)
    return main(["log-model", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(run())
