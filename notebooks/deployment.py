# Databricks notebook source
# MAGIC %md
# MAGIC # Deployment
# MAGIC
# MAGIC The deployment job's task: roll the serving endpoint of `model_name` (named by the
# MAGIC `-sr` rule: `main.risk.dai_model` is served by `dai-model-sr`) to `model_version`,
# MAGIC wait until it is READY (`DEPLOY_WAIT_TIMEOUT_S`, `DEPLOY_WAIT_POLL_S`), show its build
# MAGIC logs if the update fails, and smoke-test it with the model's input example. The endpoint
# MAGIC reads the DAI license from the secret named in `license_secret`.

# COMMAND ----------

# MAGIC %pip install "h2o-dai-py-scoring-mlflow[databricks]"

# COMMAND ----------

dbutils.widgets.text("model_name", "")
dbutils.widgets.text("model_version", "")
dbutils.widgets.text("license_secret", "dai/license")
dbutils.widgets.text("endpoint", "")

# COMMAND ----------

import mlflow

from h2o_dai_py_scoring_mlflow.databricks.deploy import DeployRequest, deploy
from h2o_dai_py_scoring_mlflow.databricks.naming import endpoint_name, is_unity_catalog
from h2o_dai_py_scoring_mlflow.settings import load_settings

model_name = dbutils.widgets.get("model_name")
model_version = dbutils.widgets.get("model_version")
if not model_name or not model_version:
    raise ValueError("The deployment task needs the model_name and model_version parameters.")
if is_unity_catalog(model_name):
    mlflow.set_registry_uri("databricks-uc")

deployed = deploy(
    load_settings(),
    DeployRequest(
        model_name=model_name,
        version=model_version,
        endpoint=dbutils.widgets.get("endpoint") or endpoint_name(model_name),
        license_secret=dbutils.widgets.get("license_secret") or None,
    ),
    progress=print,
)
print(f"endpoint {deployed.endpoint} serves {model_name} version {deployed.version}")
