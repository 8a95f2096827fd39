"""The pyfunc wrapper never puts the license key into an error, even when the scorer does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from h2o_dai_py_scoring_mlflow.model.wrapper import DaiScoringPipelineModel

KEY = "DAI-LICENSE-KEY-in-a-scorer-message-7f3a"


def test_a_license_error_naming_the_key_is_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scorer_that_echoes_the_key.py").write_text(
        "import os\n"
        "class LicenseError(Exception):\n    pass\n"
        "class Scorer:\n"
        "    def __init__(self):\n"
        "        raise LicenseError('license ' + os.environ['DRIVERLESS_AI_LICENSE_KEY']"
        " + ' has expired')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DRIVERLESS_AI_LICENSE_KEY", KEY)
    model = DaiScoringPipelineModel()
    model._config = {"scorer_module": "scorer_that_echoes_the_key"}
    with pytest.raises(MlflowException) as raised:
        model._get_scorer()
    assert KEY not in str(raised.value)
    assert "license ****** has expired" in str(raised.value)
    sys.modules.pop("scorer_that_echoes_the_key", None)
