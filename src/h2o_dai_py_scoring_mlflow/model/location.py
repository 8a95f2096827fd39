"""Find a logged model's folder: a local or ``dbfs:/`` path as it is, any other MLflow URI
(``runs:/``, ``models:/``, ...) downloaded with the caller's own MLflow into a temporary folder.

Runs on the caller's Python (any MLflow); used by `score --model-uri`, `validate` and `serve`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator
from urllib.parse import urlparse

import yaml

from ..errors import DaiMlflowError
from ..export.reading import local_path
from ..export.requirements import ARTIFACTS_FOLDER
from ..scratch import scratch_dir

_MODEL_TIP = "Pass a model logged by `dai-mlflow log-model` (runs:/, models:/ or its folder)."


class ModelLocationError(DaiMlflowError):
    """A model URI that does not lead to a DAI model logged by this package."""


@dataclass(frozen=True)
class ModelFolder:
    """A logged DAI model on local disk, and the configuration its MLmodel records."""

    path: Path
    config: Dict[str, Any]

    @property
    def pipeline(self) -> Path:
        """The export's files inside the model."""
        return self.path / ARTIFACTS_FOLDER

    @property
    def apply_data_recipes(self) -> bool:
        return bool(self.config.get("apply_data_recipes", False))


def _model_config(model_dir: Path) -> Dict[str, Any]:
    try:
        mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLocationError(
            f"{model_dir}: no readable MLmodel file ({exc}).", tip=_MODEL_TIP
        ) from None
    flavor = (mlmodel or {}).get("flavors", {}).get("python_function", {})
    # save_model(model_config=...) lands in the flavor's `config` key.
    config = flavor.get("config") or {}
    return dict(config) if isinstance(config, dict) else {}


def model_folder(model_dir: Path) -> ModelFolder:
    """``model_dir`` (made absolute) checked to be a DAI model logged by this package."""
    model_dir = model_dir.resolve()
    config = _model_config(model_dir)
    if not (model_dir / ARTIFACTS_FOLDER).is_dir():
        raise ModelLocationError(
            f"{model_dir} has no {ARTIFACTS_FOLDER}/: it is not a DAI model logged by dai-mlflow.",
            tip=_MODEL_TIP,
        )
    return ModelFolder(model_dir, config)


def is_local(model_uri: str) -> bool:
    return urlparse(model_uri).scheme in ("", "file", "dbfs")


@contextlib.contextmanager
def open_model(model_uri: str) -> Iterator[ModelFolder]:
    """The model at ``model_uri`` on local disk for the duration of the block."""
    if is_local(model_uri):
        scheme = urlparse(model_uri).scheme
        local = local_path(model_uri[len("file://") :] if scheme == "file" else model_uri)
        if not local.is_dir():
            raise ModelLocationError(f"The model folder {local} does not exist.", tip=_MODEL_TIP)
        yield model_folder(local)
        return
    with scratch_dir("model") as scratch:
        yield model_folder(_download(model_uri, scratch))


def _download(model_uri: str, target: Path) -> Path:
    import mlflow  # noqa: PLC0415  # the caller's MLflow, any version
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        return Path(
            mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(target))
        )
    except (MlflowException, OSError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelLocationError(
            f"Cannot download the model {model_uri} from {mlflow.get_tracking_uri()}: {first}",
            tip="Check the URI and MLFLOW_TRACKING_URI (and MLFLOW_REGISTRY_URI for models:/).",
        ) from None
