"""`dai-mlflow deploy` and the deployment job against a local stand-in for the Databricks REST
API, with the real databricks-sdk as the client: what is sent, the endpoint's state machine
(new endpoint, update, an update already in flight, UPDATE_FAILED with logs, a timeout), and
that neither the license nor the token is ever in a request body or in what the user sees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from helpers.cli import cli_env, dai_mlflow
from helpers.fake_databricks import Endpoint, FakeDatabricks, FakeWorkspace

from h2o_dai_py_scoring_mlflow.databricks.deploy import DeployError, DeployRequest, deploy
from h2o_dai_py_scoring_mlflow.databricks.jobs import DeploymentJob, create_deployment_job
from h2o_dai_py_scoring_mlflow.databricks.naming import endpoint_name, served_entity_name
from h2o_dai_py_scoring_mlflow.databricks.serving import EndpointError
from h2o_dai_py_scoring_mlflow.errors import DaiMlflowError
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytest.importorskip("databricks.sdk")

TOKEN = "dapi-fake-token-0123456789abcdef"
LICENSE_KEY = "DAI-LICENSE-KEY-must-never-travel-9f8e7d"
UC_MODEL = "main.risk.dai_model"
COLUMNS = ["LIMIT_BAL", "AGE", "EDUCATION"]


def _model_dir(folder: Path, outputs: bool = True) -> Path:
    """The files deploy reads from a model: MLmodel's signature and the input example."""
    model = folder / "model"
    model.mkdir()
    inputs = json.dumps([{"name": c, "type": "double"} for c in COLUMNS])
    signature: Dict[str, Any] = {"inputs": inputs}
    if outputs:
        signature["outputs"] = json.dumps([{"name": "default.1", "type": "double"}])
    (model / "MLmodel").write_text(json.dumps({"signature": signature}))
    example = {"columns": COLUMNS, "data": [[20000.0, 24.0, "university"], [None, 35.0, None]]}
    (model / "input_example.json").write_text(json.dumps(example))
    return model


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeDatabricks]:
    workspace = FakeWorkspace(token=TOKEN, polls_to_ready=2)
    workspace.model_versions[(UC_MODEL, "3")] = "READY"
    with FakeDatabricks(workspace) as server:
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("DATABRICKS_HOST", server.host)
        monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
        monkeypatch.setenv("DEPLOY_WAIT_POLL_S", "0.05")
        monkeypatch.setenv("DEPLOY_WAIT_TIMEOUT_S", "30")
        monkeypatch.setenv("DRIVERLESS_AI_LICENSE_KEY", LICENSE_KEY)
        yield server


def _bodies(server: FakeDatabricks) -> List[str]:
    return [r.body for r in server.workspace.requests]


def _no_secret_sent(server: FakeDatabricks) -> None:
    for recorded in server.workspace.requests:
        assert LICENSE_KEY not in recorded.body and LICENSE_KEY not in recorded.path
        assert TOKEN not in recorded.body and TOKEN not in recorded.path
        headers = {k: v for k, v in recorded.headers.items() if k.lower() != "authorization"}
        assert TOKEN not in json.dumps(headers) and LICENSE_KEY not in json.dumps(headers)


def _request(model: Path, **changes: Any) -> DeployRequest:
    values: Dict[str, Any] = {"model_name": UC_MODEL, "version": "3", "model_dir": model,
                              "license_secret": "dai/license"}  # fmt: skip
    values.update(changes)
    return DeployRequest(**values)


def test_the_sr_rule_names_endpoints_and_served_entities() -> None:
    assert endpoint_name("main.risk.dai_model") == "dai-model-sr"
    assert endpoint_name("Credit Risk (v2)") == "credit-risk-v2-sr"
    assert endpoint_name("churn-sr") == "churn-sr"
    assert len(endpoint_name("x" * 100)) == 63
    assert served_entity_name("main.risk.dai_model", "12") == "dai-model-12"


def test_a_new_endpoint_is_created_waited_for_and_smoke_tested(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    progress: List[str] = []
    result = deploy(load_settings(), _request(_model_dir(tmp_path)), progress.append)
    assert (result.endpoint, result.created, result.smoke_rows) == ("dai-model-sr", True, 2)
    (create,) = fake.workspace.sent("POST", "/api/2.0/serving-endpoints")
    body = json.loads(create.body)
    assert body["name"] == "dai-model-sr"
    assert body["config"]["served_entities"] == [
        {
            "name": "dai-model-3",
            "entity_name": UC_MODEL,
            "entity_version": "3",
            "workload_size": "Small",
            "scale_to_zero_enabled": True,
            "environment_vars": {"DRIVERLESS_AI_LICENSE_KEY": "{{secrets/dai/license}}"},
        }
    ]
    (query,) = fake.workspace.sent("POST", "/serving-endpoints/dai-model-sr/invocations")
    assert json.loads(query.body) == {
        "dataframe_records": [
            {"LIMIT_BAL": 20000.0, "AGE": 24.0, "EDUCATION": "university"},
            {"LIMIT_BAL": None, "AGE": 35.0, "EDUCATION": None},
        ]
    }
    assert any("READY" in line for line in progress)
    _no_secret_sent(fake)


def test_an_existing_endpoint_is_updated_to_the_new_version(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    old = {
        "served_entities": [{"name": "dai-model-2", "entity_name": UC_MODEL, "entity_version": "2"}]
    }
    fake.workspace.endpoints["dai-model-sr"] = Endpoint("dai-model-sr", config=old, ready="READY")
    result = deploy(load_settings(), _request(_model_dir(tmp_path)), lambda _: None)
    assert result.created is False
    assert fake.workspace.sent("POST", "/api/2.0/serving-endpoints") == []
    (update,) = fake.workspace.sent("PUT", "/api/2.0/serving-endpoints/dai-model-sr/config")
    assert json.loads(update.body)["served_entities"][0]["entity_version"] == "3"
    live = fake.workspace.endpoints["dai-model-sr"].config or {}
    assert [e["entity_version"] for e in live["served_entities"]] == ["3"]


def test_an_update_in_flight_is_waited_out_before_ours(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    pending = {"served_entities": [{"entity_name": UC_MODEL, "entity_version": "2"}]}
    busy = Endpoint("dai-model-sr", config={"served_entities": []}, ready="READY",
                    config_update="IN_PROGRESS", polls_left=3, pending=pending)  # fmt: skip
    fake.workspace.endpoints["dai-model-sr"] = busy
    deploy(load_settings(), _request(_model_dir(tmp_path)), lambda _: None)
    statuses = [r for r in fake.workspace.requests if "serving-endpoints" in r.path]
    put_at = next(i for i, r in enumerate(statuses) if r.method == "PUT")
    assert len([r for r in statuses[:put_at] if r.method == "GET"]) >= 4  # 3 busy polls + settled
    live = fake.workspace.endpoints["dai-model-sr"].config or {}
    assert [e["entity_version"] for e in live["served_entities"]] == ["3"]


def test_update_failed_shows_the_build_logs_and_skips_the_smoke_test(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    fake.workspace.fail_next_update = True
    with pytest.raises(EndpointError) as raised:
        deploy(load_settings(), _request(_model_dir(tmp_path)), lambda _: None)
    message = str(raised.value)
    assert "failed to update" in message
    assert "build logs of dai-model-3" in message and "No matching distribution" in message
    assert "dai-mlflow validate" in (raised.value.tip or "")
    assert fake.workspace.sent("POST", r"/serving-endpoints/.*/invocations") == []


def test_an_endpoint_that_never_gets_ready_times_out_with_its_last_state(
    fake: FakeDatabricks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.workspace.polls_to_ready = 10_000
    monkeypatch.setenv("DEPLOY_WAIT_TIMEOUT_S", "0.5")
    with pytest.raises(EndpointError, match=r"was not READY .* after 0 s .*IN_PROGRESS"):
        deploy(load_settings(), _request(_model_dir(tmp_path)), lambda _: None)
    assert len(fake.workspace.sent("GET", "/api/2.0/serving-endpoints/dai-model-sr")) >= 3


@pytest.mark.parametrize(
    ("status", "match"),
    [
        (None, "does not exist in Unity Catalog"),
        ("PENDING_REGISTRATION", "is PENDING_REGISTRATION"),
    ],
)
def test_a_version_that_is_missing_or_not_ready_is_refused_before_any_endpoint_call(
    fake: FakeDatabricks, tmp_path: Path, status: Any, match: str
) -> None:
    if status is None:
        del fake.workspace.model_versions[(UC_MODEL, "3")]
    else:
        fake.workspace.model_versions[(UC_MODEL, "3")] = status
    with pytest.raises(DeployError, match=match):
        deploy(load_settings(), _request(_model_dir(tmp_path)), lambda _: None)
    assert [r for r in fake.workspace.requests if "serving-endpoints" in r.path] == []


def test_unity_catalog_refuses_a_model_without_outputs_and_the_workspace_registry_is_asked_too(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    with pytest.raises(DeployError, match="no outputs in its signature"):
        deploy(load_settings(), _request(_model_dir(tmp_path, outputs=False)), lambda _: None)
    fake.workspace.model_versions[("dai_model", "1")] = "READY"
    (tmp_path / "ws").mkdir()
    request = _request(
        _model_dir(tmp_path / "ws", outputs=False), model_name="dai_model", version="1"
    )
    result = deploy(load_settings(), request, lambda _: None)
    assert result.endpoint == "dai-model-sr"
    assert fake.workspace.sent("GET", "/api/2.0/mlflow/model-versions/get")


def test_validate_first_stops_a_broken_model_before_any_endpoint_call(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    """--validate: a folder that is not a model this package logged (no export files, no
    wrapper) is refused by validate, and no endpoint build is started."""
    with pytest.raises(DaiMlflowError, match="not a DAI model logged by dai-mlflow"):
        deploy(load_settings(), _request(_model_dir(tmp_path), validate=True), lambda _: None)
    assert [r for r in fake.workspace.requests if "serving-endpoints" in r.path] == []


@pytest.mark.slow
def test_validate_first_reports_what_would_fail_in_serving_and_deploys_nothing(
    fake: FakeDatabricks,
    tmp_path: Path,
    logged_binary_model: Path,
    sample_factory: Callable[[str], SampleResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A logged model whose pickled wrapper is broken: validate's clean-environment rehearsal
    fails, its table is the error, and no endpoint build is started."""
    broken = tmp_path / "broken"
    shutil.copytree(logged_binary_model, broken)
    (broken / "python_model.pkl").write_bytes(b"not a pickle")
    monkeypatch.delenv("DRIVERLESS_AI_LICENSE_KEY")
    monkeypatch.setenv("DRIVERLESS_AI_LICENSE_FILE", str(sample_factory("binary").license_file))
    with pytest.raises(DeployError, match="validate found what would fail in Serving") as raised:
        deploy(load_settings(), _request(broken, validate=True), lambda _: None)
    assert "FAIL" in str(raised.value)
    assert [r for r in fake.workspace.requests if "serving-endpoints" in r.path] == []


def test_without_a_license_secret_nothing_is_sent(fake: FakeDatabricks, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="no Databricks secret holding it") as raised:
        deploy(load_settings(), _request(_model_dir(tmp_path), license_secret=None), lambda _: None)
    assert "--license-secret" in (raised.value.tip or "")
    assert fake.workspace.requests == []


def test_the_cli_deploys_and_shows_neither_the_token_nor_the_license(
    fake: FakeDatabricks, tmp_path: Path
) -> None:
    env = cli_env(tmp_path / "envs", HOME=str(tmp_path / "home"), DATABRICKS_HOST=fake.host,
                  DATABRICKS_TOKEN=TOKEN, DRIVERLESS_AI_LICENSE_KEY=LICENSE_KEY,
                  DEPLOY_WAIT_POLL_S="0.05",
                  H2O_DAI_MLFLOW_LICENSE_SECRET="dai/license")  # fmt: skip
    model = _model_dir(tmp_path)
    done = dai_mlflow(["deploy", "--model-name", UC_MODEL, "--model-version", "3",
                       "--model-dir", str(model), "--json"], tmp_path, env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["endpoint"], result["version"], result["smoke_rows"]) == ("dai-model-sr", "3", 2)
    assert "endpoint dai-model-sr: config_update=IN_PROGRESS" in done.stderr
    for text in (done.stdout, done.stderr):
        assert TOKEN not in text and LICENSE_KEY not in text
    _no_secret_sent(fake)
    env_listing = dai_mlflow(["env"], tmp_path, env)
    assert "H2O_DAI_MLFLOW_LICENSE_SECRET" in env_listing.stdout
    assert LICENSE_KEY not in env_listing.stdout and TOKEN not in env_listing.stdout


def test_the_deployment_job_is_created_and_linked_to_the_unity_catalog_model(
    fake: FakeDatabricks,
) -> None:
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient(host=fake.host, token=TOKEN)
    job = DeploymentJob(name="dai deployment", notebook_path="/Workspace/dai/deployment",
                        model_name=UC_MODEL)  # fmt: skip
    assert create_deployment_job(client, job) == 1001
    (created,) = fake.workspace.sent("POST", r"/api/2\.[12]/jobs/create")
    body = json.loads(created.body)
    assert body["name"] == "dai deployment"
    (task,) = body["tasks"]
    assert task["task_key"] == "Deployment"
    assert task["notebook_task"] == {"notebook_path": "/Workspace/dai/deployment"}
    assert [p["name"] for p in body["parameters"]] == ["model_name", "model_version"]
    assert body["job_clusters"][0]["new_cluster"]["spark_version"].startswith("16.4.")
    (link,) = fake.workspace.sent("PATCH", f"/api/2.1/unity-catalog/models/{UC_MODEL}")
    assert json.loads(link.body) == {"deployment_job_id": "1001"}
    _no_secret_sent(fake)
