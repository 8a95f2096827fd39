"""The Asset Bundle and the notebooks as Databricks reads them: the bundle's keys are the
documented ones, its job runs this wheel's entry point with named parameters only, every job
parameter it references exists; the notebooks are Databricks source files that compile."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict, Set

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
JOB = "h2o_dai_py_scoring_mlflow_job"

# The keys of the bundle schema (docs.databricks.com, "Databricks Asset Bundle configuration")
# that these files may use, per level.
BUNDLE_KEYS = {"bundle", "include", "artifacts", "variables", "targets", "resources", "workspace"}
JOB_KEYS = {"name", "max_concurrent_runs", "parameters", "job_clusters", "tasks", "tags",
            "email_notifications", "schedule", "timeout_seconds"}  # fmt: skip
TASK_KEYS = {"task_key", "job_cluster_key", "existing_cluster_id", "python_wheel_task",
             "libraries", "depends_on", "timeout_seconds", "max_retries"}  # fmt: skip
WHEEL_TASK_KEYS = {"package_name", "entry_point", "parameters", "named_parameters"}
CLUSTER_KEYS = {"spark_version", "node_type_id", "num_workers", "spark_conf", "custom_tags",
                "spark_env_vars", "data_security_mode", "autoscale"}  # fmt: skip


def _load(path: Path) -> Dict[str, Any]:
    loaded: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def test_the_bundle_builds_the_wheel_with_uv_and_includes_the_job() -> None:
    bundle = _load(REPO / "databricks.yml")
    assert set(bundle) <= BUNDLE_KEYS
    assert bundle["bundle"]["name"] == "h2o_dai_py_scoring_mlflow"
    (artifact,) = bundle["artifacts"].values()
    assert artifact["type"] == "whl" and artifact["build"] == "uv build --wheel"
    assert bundle["include"] == ["resources/*.yml"]
    assert (REPO / "resources" / "h2o_dai_py_scoring_mlflow.job.yml").is_file()


def test_the_job_runs_the_wheels_entry_point_with_named_parameters_on_16_4_ml() -> None:
    bundle = _load(REPO / "databricks.yml")
    jobs = _load(REPO / "resources" / "h2o_dai_py_scoring_mlflow.job.yml")["resources"]["jobs"]
    job = jobs[JOB]
    assert set(job) <= JOB_KEYS
    (task,) = job["tasks"]
    assert task["task_key"] == "main_task" and set(task) <= TASK_KEYS
    wheel = task["python_wheel_task"]
    assert set(wheel) <= WHEEL_TASK_KEYS
    assert "named_parameters" in wheel and "parameters" not in wheel
    assert wheel["package_name"] == "h2o_dai_py_scoring_mlflow"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[wheel["entry_point"]] == "h2o_dai_py_scoring_mlflow.cli:log_model_job"
    assert task["libraries"] == [{"whl": "../dist/*.whl"}]

    defined = {p["name"] for p in job["parameters"]}
    used: Set[str] = set()
    for value in wheel["named_parameters"].values():
        used |= set(re.findall(r"\{\{job\.parameters\.(\w+)\}\}", value))
    assert (
        used == defined == {"scoring_dir", "experiment", "artifact_path", "registered_model_name"}
    )
    variables = set(bundle["variables"])
    text = (REPO / "resources" / "h2o_dai_py_scoring_mlflow.job.yml").read_text()
    assert set(re.findall(r"\$\{var\.(\w+)\}", text)) <= variables

    (cluster,) = job["job_clusters"]
    assert cluster["job_cluster_key"] == task["job_cluster_key"]
    spec = cluster["new_cluster"]
    assert set(spec) <= CLUSTER_KEYS
    assert spec["spark_version"].startswith("16.4.") and "-ml-" in spec["spark_version"]
    license_ref = spec["spark_env_vars"]["DRIVERLESS_AI_LICENSE_KEY"]
    assert re.fullmatch(r"\{\{secrets/\$\{var\.\w+\}/\$\{var\.\w+\}\}\}", license_ref)


def test_the_job_entry_point_maps_named_parameters_to_log_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from h2o_dai_py_scoring_mlflow import cli

    seen = []
    monkeypatch.setattr(cli, "main", lambda argv: seen.append(argv) or 0)
    cli.log_model_job(["--scoring_dir=/Volumes/a/b/scorer.zip", "--experiment=/Shared/x",
                       "--artifact_path=", "--registered_model_name=main.s.m"])  # fmt: skip
    assert seen == [["log-model", "/Volumes/a/b/scorer.zip", "--json", "--registered-model-name",
                     "main.s.m", "--experiment", "/Shared/x"]]  # fmt: skip
    monkeypatch.setattr(cli, "main", lambda argv: 1)
    with pytest.raises(SystemExit) as failed:
        cli.log_model_job([])
    assert failed.value.code == 1


@pytest.mark.parametrize(
    "name", ["driverless_ai_packager.py", "create-deployment-job.py", "deployment.py"]
)
def test_the_notebooks_are_databricks_source_files_that_compile(name: str) -> None:
    source = (REPO / "notebooks" / name).read_text(encoding="utf-8")
    assert source.startswith("# Databricks notebook source\n")
    assert "# COMMAND ----------" in source
    compile(source, name, "exec")
    assert 'DRIVERLESS_AI_LICENSE_KEY"] =' not in source or "dbutils.secrets.get" in source
