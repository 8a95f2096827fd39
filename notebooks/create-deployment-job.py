# Databricks notebook source
# MAGIC %md
# MAGIC # Create the deployment job
# MAGIC
# MAGIC Creates a job whose `Deployment` task runs the `deployment` notebook with the job
# MAGIC parameters `model_name` and `model_version`. With a Unity Catalog model name it also sets
# MAGIC the job as that model's deployment job, so each new version can trigger it.

# COMMAND ----------

# MAGIC %pip install "h2o-dai-py-scoring-mlflow[databricks]"

# COMMAND ----------

dbutils.widgets.text("job_name", "h2o_dai_deployment")
dbutils.widgets.text("model_name", "main.default.dai_model")
dbutils.widgets.text("deployment_notebook", "")
dbutils.widgets.text("existing_cluster_id", "")

# COMMAND ----------

from pathlib import Path

from h2o_dai_py_scoring_mlflow.databricks.client import workspace_client
from h2o_dai_py_scoring_mlflow.databricks.jobs import DeploymentJob, create_deployment_job

context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
notebook = dbutils.widgets.get("deployment_notebook") or str(
    Path(context.notebookPath().get()).parent / "deployment"
)
job_id = create_deployment_job(
    workspace_client(),
    DeploymentJob(
        name=dbutils.widgets.get("job_name"),
        notebook_path=notebook,
        model_name=dbutils.widgets.get("model_name") or None,
        existing_cluster_id=dbutils.widgets.get("existing_cluster_id") or None,
    ),
)
print(f"deployment job {job_id} runs {notebook}")
