"""The deployment job: a Databricks job whose one task (``Deployment``) runs the deployment
notebook for the ``model_name`` and ``model_version`` job parameters, optionally linked to a
Unity Catalog model as its deployment job (so a new version triggers it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .naming import is_unity_catalog

ML_RUNTIME = "16.4.x-cpu-ml-scala2.12"


@dataclass(frozen=True)
class DeploymentJob:
    name: str
    notebook_path: str
    model_name: Optional[str] = None  # link the job to this Unity Catalog model
    existing_cluster_id: Optional[str] = None
    node_type_id: str = "i3.xlarge"


def create_deployment_job(client: Any, job: DeploymentJob) -> int:
    """Create the job; link it to the Unity Catalog model when one is named. Its job id."""
    from databricks.sdk.service import compute, jobs  # noqa: PLC0415

    task = jobs.Task(
        task_key="Deployment",
        notebook_task=jobs.NotebookTask(notebook_path=job.notebook_path),
        existing_cluster_id=job.existing_cluster_id,
        job_cluster_key=None if job.existing_cluster_id else "deployment_cluster",
    )
    clusters = (
        []
        if job.existing_cluster_id
        else [
            jobs.JobCluster(
                job_cluster_key="deployment_cluster",
                new_cluster=compute.ClusterSpec(
                    spark_version=ML_RUNTIME, node_type_id=job.node_type_id, num_workers=0
                ),
            )
        ]
    )
    created = client.jobs.create(
        name=job.name,
        tasks=[task],
        job_clusters=clusters or None,
        parameters=[
            jobs.JobParameterDefinition(name="model_name", default=job.model_name or ""),
            jobs.JobParameterDefinition(name="model_version", default=""),
        ],
        max_concurrent_runs=1,
    )
    job_id = int(created.job_id)
    if job.model_name and is_unity_catalog(job.model_name):
        client.api_client.do(
            "PATCH",
            f"/api/2.1/unity-catalog/models/{job.model_name}",
            body={"deployment_job_id": str(job_id)},
        )
    return job_id
