"""`dai-mlflow deploy`: put a registered model version behind a Model Serving endpoint.

In order, each step stopping the rest on failure: the version must exist and be READY in its
registry (Unity Catalog for ``catalog.schema.model`` names, else the workspace registry); the
model's files are read (a local copy, or downloaded with your MLflow) for its signature and
input example - Unity Catalog serves only models whose signature has outputs; ``validate``
runs first when asked (a failed endpoint build costs about 20 minutes, validate a few); then
the endpoint is rolled (:mod:`.serving`) and smoke-tested with the input example.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import yaml

from ..checks.validation import ValidateRequest, validate
from ..errors import DaiMlflowError
from ..model.location import open_model
from ..settings import Settings
from .client import workspace_client
from .naming import endpoint_name, is_unity_catalog, served_entity_name
from .serving import EndpointPlan, RollResult, roll_endpoint, smoke_test


class DeployError(DaiMlflowError):
    """The model version cannot be deployed as asked."""


@dataclass(frozen=True)
class DeployRequest:
    model_name: str
    version: str
    endpoint: Optional[str] = None
    license_secret: Optional[str] = None
    model_dir: Optional[Path] = None
    validate: bool = False
    workload_size: str = "Small"
    scale_to_zero: bool = True
    profile: Optional[str] = None


@dataclass(frozen=True)
class DeployResult:
    endpoint: str
    model_name: str
    version: str
    created: bool
    seconds: float
    smoke_rows: int


def _registry_status(client: Any, name: str, version: str) -> str:
    from databricks.sdk.errors import NotFound, ResourceDoesNotExist  # noqa: PLC0415

    try:
        if is_unity_catalog(name):
            info = client.model_versions.get(name, int(version))
        else:
            info = client.model_registry.get_model_version(name, version).model_version
    except (NotFound, ResourceDoesNotExist):
        registry = "Unity Catalog" if is_unity_catalog(name) else "the workspace model registry"
        raise DeployError(
            f"{name} version {version} does not exist in {registry}.",
            tip="Register it first: dai-mlflow log-model ... --registered-model-name NAME "
            "(catalog.schema.model for Unity Catalog, with MLFLOW_REGISTRY_URI=databricks-uc).",
        ) from None
    return str(getattr(info.status, "value", info.status) or "")


def _check_ready(client: Any, name: str, version: str) -> None:
    status = _registry_status(client, name, version)
    if status not in ("READY", ""):
        raise DeployError(
            f"{name} version {version} is {status} in its registry, not READY.",
            tip="Wait for the registration to finish (or fix it if it failed), then deploy again.",
        )


@contextlib.contextmanager
def _model_files(request: DeployRequest) -> Iterator[Path]:
    if request.model_dir is not None:
        yield request.model_dir
        return
    with open_model(f"models:/{request.model_name}/{request.version}") as model:
        yield model.path


def _signature_outputs(model_dir: Path) -> List[Any]:
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8")) or {}
    signature = mlmodel.get("signature") or {}
    return list(json.loads(signature.get("outputs") or "[]"))


def _example_records(model_dir: Path) -> List[Dict[str, Any]]:
    path = model_dir / "input_example.json"
    if not path.is_file():
        raise DeployError(
            f"{path} is missing: the endpoint cannot be smoke-tested.",
            tip="Log the model with dai-mlflow log-model (it stores an input example).",
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    split = data.get("dataframe_split", data)
    return [dict(zip(split["columns"], row)) for row in split["data"]]


def _license_secret(settings: Settings, request: DeployRequest) -> str:
    secret = request.license_secret or settings.license_secret
    if not secret:
        raise DeployError(
            "The serving endpoint needs the DAI license, and no Databricks secret holding it "
            "was named.",
            tip="Put the license key in a secret (databricks secrets put-secret SCOPE KEY) and "
            "pass --license-secret SCOPE/KEY (or set H2O_DAI_MLFLOW_LICENSE_SECRET). The key "
            "itself is never sent: the endpoint gets {{secrets/SCOPE/KEY}}.",
        )
    return secret


def deploy(
    settings: Settings, request: DeployRequest, progress: Callable[[str], None]
) -> DeployResult:
    """Roll the endpoint to ``request``'s model version and smoke-test it."""
    secret = _license_secret(settings, request)
    client = workspace_client(request.profile)
    _check_ready(client, request.model_name, request.version)
    with _model_files(request) as model_dir:
        if is_unity_catalog(request.model_name) and not _signature_outputs(model_dir):
            raise DeployError(
                f"{request.model_name} v{request.version} has no outputs in its signature, "
                "and Unity Catalog serves only models whose signature has them.",
                tip="Log the model again with the DAI license in the environment.",
            )
        records = _example_records(model_dir)
        if request.validate:
            progress("validating the model before the endpoint build (dai-mlflow validate)")
            report = validate(settings, ValidateRequest(model_uri=str(model_dir)), echo=True)
            if not report.ok:
                raise DeployError(
                    f"validate found what would fail in Serving:\n{report.table()}",
                    tip="Fix what it names and log the model again; nothing was deployed.",
                )
    plan = EndpointPlan(
        endpoint=request.endpoint or endpoint_name(request.model_name),
        model_name=request.model_name,
        version=request.version,
        served_name=served_entity_name(request.model_name, request.version),
        license_secret=secret,
        workload_size=request.workload_size,
        scale_to_zero=request.scale_to_zero,
    )
    rolled: RollResult = roll_endpoint(
        client,
        plan,
        timeout_s=settings.deploy_wait_timeout_s,
        poll_s=settings.deploy_wait_poll_s,
        progress=progress,
    )
    progress(f"endpoint {plan.endpoint} READY with v{plan.version}; smoke-testing it")
    smoke_test(client, plan.endpoint, records)
    return DeployResult(
        plan.endpoint, plan.model_name, plan.version, rolled.created, rolled.seconds, len(records)
    )
