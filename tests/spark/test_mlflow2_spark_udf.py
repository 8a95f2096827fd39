"""Where MLflow's own `spark_udf` works - a caller on MLflow 2.x - it scores these models too.

The caller here is Python 3.8 with MLflow 2.17 and pyspark 3.5: the model's own environment
(built from its files) plus pyspark, so `env_manager="local"` loads the model in-process.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from h2o_dai_py_scoring_mlflow.model.environment import model_interpreter, model_requirement_lines
from h2o_dai_py_scoring_mlflow.runtime.environments import EnvironmentSpec, ensure_environment
from h2o_dai_py_scoring_mlflow.runtime.processes import child_environment
from h2o_dai_py_scoring_mlflow.runtime.scorer import ScoringEnvironment, score_frame
from h2o_dai_py_scoring_mlflow.samples import SampleResult
from h2o_dai_py_scoring_mlflow.settings import load_settings

pytestmark = pytest.mark.slow

SPARK_UDF = """
import json, sys
import pandas as pd
import mlflow.pyfunc
from pyspark.sql import SparkSession
from pyspark.sql.functions import struct

model, frame_path = sys.argv[1], sys.argv[2]
split = json.load(open(frame_path))
spark = SparkSession.builder.master("local[1]").getOrCreate()
frame = spark.createDataFrame(pd.DataFrame(split["data"], columns=split["columns"]).astype(str))
outputs = json.loads(mlflow.models.Model.load(model).signature.outputs.to_json())
result_type = ", ".join("`%s` double" % o["name"] for o in outputs)
udf = mlflow.pyfunc.spark_udf(spark, model, env_manager="local", result_type=result_type)
scored = frame.withColumn("p", udf(struct(*split["columns"]))).select("p.*").toPandas()
print(json.dumps({"columns": list(scored.columns), "rows": scored.values.tolist()}))
spark.stop()
"""


def test_mlflow_2_spark_udf_with_the_local_env_manager(
    logged_binary_model: Path,
    env_root: Path,
    sample_factory: Callable[[str], SampleResult],
    scoring_env_factory: Callable[[str], ScoringEnvironment],
    tmp_path: Path,
) -> None:
    settings = load_settings({"MLFLOW_ENV_ROOT": str(env_root)})
    requirements = (*model_requirement_lines(logged_binary_model), "pyspark==3.5.8")
    spec = EnvironmentSpec(
        model_interpreter(logged_binary_model, settings), requirements, label="sparkudf"
    )
    env = ensure_environment(spec, settings)
    split = json.loads((logged_binary_model / "input_example.json").read_text())
    (tmp_path / "frame.json").write_text(json.dumps(split))
    sample = sample_factory("binary")
    variables = child_environment(
        {"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file), "PYSPARK_PYTHON": str(env.python)}
    )
    done = subprocess.run(
        [str(env.python), "-c", SPARK_UDF, str(logged_binary_model), str(tmp_path / "frame.json")],
        env=variables, cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    direct = score_frame(
        scoring_env_factory("binary").environment,
        sample.pipeline,
        split,
        extra_env={"DRIVERLESS_AI_LICENSE_FILE": str(sample.license_file)},
    )
    assert result["columns"] == direct.columns
    assert np.allclose(np.array(result["rows"]), np.array(direct.rows), rtol=1e-12, atol=0)
