# Databricks notebook source
# MAGIC %md
# MAGIC # Driverless AI packager
# MAGIC
# MAGIC Logs a Driverless AI Python scoring pipeline export (`scorer.zip` or a `scoring-pipeline/`
# MAGIC folder on a Volume or DBFS) as an MLflow pyfunc model that runs under Python 3.8,
# MAGIC optionally registers it (a `catalog.schema.model` name registers in Unity Catalog) and
# MAGIC optionally rolls its serving endpoint to the new version and smoke-tests it.
# MAGIC
# MAGIC The DAI license comes from a Databricks secret (`scope/key`): it is read into this
# MAGIC notebook's environment for the Python 3.8 build, and the endpoint gets only a reference to
# MAGIC the secret. Nothing prints or logs it.

# COMMAND ----------

# MAGIC %pip install "h2o-dai-py-scoring-mlflow[databricks]"

# COMMAND ----------

dbutils.widgets.text("scoring_dir", "/Volumes/main/default/dai/scorer.zip")
dbutils.widgets.text("registered_model_name", "")
dbutils.widgets.text("license_secret", "dai/license")
dbutils.widgets.dropdown("deploy", "no", ["no", "yes"])
dbutils.widgets.text("endpoint", "")
dbutils.widgets.text("package_zip", "")

# COMMAND ----------

import os
import sys

# Where packages cannot be installed: `dai-mlflow databricks-zip --out DIR`, upload the zip, and
# name it in the package_zip widget.
package_zip = dbutils.widgets.get("package_zip")
if package_zip:
    sys.path.insert(0, package_zip)

from h2o_dai_py_scoring_mlflow import log_driverless_scoring_pipeline

license_secret = dbutils.widgets.get("license_secret")
if license_secret:
    scope, key = license_secret.split("/", 1)
    os.environ["DRIVERLESS_AI_LICENSE_KEY"] = dbutils.secrets.get(scope, key)

registered_model_name = dbutils.widgets.get("registered_model_name") or None
if registered_model_name and registered_model_name.count(".") == 2:
    import mlflow

    mlflow.set_registry_uri("databricks-uc")

result = log_driverless_scoring_pipeline(
    dbutils.widgets.get("scoring_dir"),
    registered_model_name=registered_model_name,
)
print(f"model URI: {result['model_uri']}")
if registered_model_name:
    print(f"registered: {registered_model_name} version {result['registered_model_version']}")

# COMMAND ----------

if dbutils.widgets.get("deploy") == "yes":
    from h2o_dai_py_scoring_mlflow.databricks.deploy import DeployRequest, deploy
    from h2o_dai_py_scoring_mlflow.settings import load_settings

    if not registered_model_name:
        raise ValueError("deploy needs a registered_model_name: serving serves registered versions")
    deployed = deploy(
        load_settings(),
        DeployRequest(
            model_name=registered_model_name,
            version=str(result["registered_model_version"]),
            endpoint=dbutils.widgets.get("endpoint") or None,
            license_secret=license_secret,
        ),
        progress=print,
    )
    print(f"endpoint {deployed.endpoint} serves version {deployed.version}")
