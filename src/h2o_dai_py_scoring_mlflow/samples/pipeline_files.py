"""The text files of a DAI 1.10 scoring-pipeline folder, in the real export's formats."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

import numpy as np
import pandas as pd

from .datasets import ColumnSpec, Dataset

DAI_VERSION = "1.10.7.3"

# Pins as DAI 1.10.7.x exports write them (DAI_FORMAT.md §2.1). h2o4gpu does not exist for
# CPU installs and pyorc builds from source on some hosts: both are real install failures.
PINNED = (
    "h2o4gpu==0.20.0",
    "numpy==1.22.0",
    "pandas==1.2.5",
    "scipy==1.7.0",
    "psutil==5.8.0",
    "tabulate==0.9.0",
    "requests==2.26.0",
    "pyorc==0.9.0",
)
CONSTRAINTS = (
    "certifi==2021.5.30",
    "charset-normalizer==2.0.4",
    "idna==3.2",
    "numpy==1.22.0",
    "pandas==1.2.5",
    "python-dateutil==2.8.2",
    "pytz==2021.1",
    "six==1.16.0",
    "urllib3==1.26.6",
)
ENV_YML_PIP = ("psutil==5.8.0", "tabulate==0.9.0", "cgroupspy==0.2.2")


@dataclass(frozen=True)
class ExportNames:
    """Names that tie the export's files together."""

    experiment_key: str
    scorer_wheel: str
    core_wheel: str

    @property
    def module(self) -> str:
        return f"scoring_h2oai_experiment_{self.experiment_key}"


def requirements_txt(names: ExportNames) -> str:
    return "\n".join([names.scorer_wheel, names.core_wheel, *PINNED]) + "\n"


def constraints_txt() -> str:
    return "\n".join(CONSTRAINTS) + "\n"


def environment_yml() -> str:
    pip = "".join(f"    - {line}\n" for line in ENV_YML_PIP)
    return (
        "name: h2oai_scoring_env\n"
        "channels:\n"
        "  - conda-forge\n"
        "  - defaults\n"
        "dependencies:\n"
        "  - python=3.8.12\n"
        "  - pip=21.1\n"
        "  - libgomp\n"
        "  - pip:\n" + pip
    )


def _float32_repr(value: float) -> str:
    return repr(float(np.float32(value)))


def _range(dataset: Dataset, column: ColumnSpec) -> str:
    values = dataset.train[column.name]
    if column.dtype in ("object", "bool"):
        return "-"
    numeric = pd.to_numeric(values, errors="coerce")
    low, high = float(numeric.min()), float(numeric.max())
    text = (
        f"[{int(low)}, {int(high)}]"
        if column.dtype == "int32"
        else (f"[{_float32_repr(low)}, {_float32_repr(high)}]")
    )
    return f"{text} or None" if numeric.isna().any() else text


def schema_table(dataset: Dataset) -> List[str]:
    """The Name/Type/Range header of example.py, padded like the real files."""
    rows: List[Tuple[str, str, str]] = [("Name", "Type", "Range")]
    rows += [(c.name, c.dtype, _range(dataset, c)) for c in dataset.columns]
    name_w = max(len(r[0]) for r in rows) + 3
    type_w = max(len(r[1]) for r in rows) + 3
    range_w = max(5, *(len(r[2]) for r in rows))
    dashes = "-" * (name_w + type_w + range_w)
    body = [f"{n:<{name_w}}{t:<{type_w}}{r:<{range_w}}" for n, t, r in rows]
    return [dashes, body[0], dashes, *body[1:], dashes]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _literal(value: Any, dtype: str) -> str:
    """A value as example.py writes it: strings for numbers and text, None for missing."""
    if _is_missing(value):
        return "None"
    if dtype == "bool":
        return "True" if bool(value) else "False"
    if dtype == "int32":
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(f"{float(value):.10g}")
    return repr(str(value))


def example_py(dataset: Dataset, names: ExportNames) -> str:
    """example.py with the schema table, row-by-row calls and pd.Series batch frames."""
    header = "\n".join(f"# {line}" for line in schema_table(dataset))
    rows = dataset.examples
    score_calls = []
    for i in range(min(5, len(rows))):
        cells = "".join(
            f"    {_literal(rows.iloc[i][c.name], c.dtype)},  # {c.name}\n" for c in dataset.columns
        )
        score_calls.append(f"scorer.score([\n{cells}], apply_data_recipes=False)")
    series = ",\n".join(
        f"    pd.Series([{', '.join(_literal(v, c.dtype) for v in rows[c.name])}], "
        f"name={c.name!r}, dtype={c.dtype!r})"
        for c in dataset.columns
    )
    target = dataset.target
    return f"""# Copyright 2021 H2O.ai; Proprietary License;  -*- encoding: utf-8 -*-
import pandas as pd
import numpy as np
from numpy import nan
from scipy.special._ufuncs import expit
from {names.module} import Scorer

# Create a singleton Scorer instance.
# For optimal performance, create a Scorer instance once, and call score() or score_batch() multiple times.
scorer = Scorer()

# The format of input record to the Scorer.score() method is as follows:

{header}

# Set apply_data_recipes to True if feed original data into scorer.
print('---------- Score Row ----------')
{chr(10).join(score_calls)}

print('---------- Score Frame ----------')
columns = [
{series}
]
df = pd.concat(columns, axis=1)
print(scorer.score_batch(df, apply_data_recipes=False))

print('---------- Get Per-Feature Prediction Contributions for Row ----------')
print(scorer.score([{", ".join(_literal(rows.iloc[0][c.name], c.dtype) for c in dataset.columns)}], pred_contribs=True))

print('---------- Get Per-Feature Prediction Contributions for Frame ----------')
print(scorer.score_batch(df, pred_contribs=True, fast_approx=True, apply_data_recipes=False))

print('---------- Transform Frames ----------')
# The target column '{target}' has to be present in all frames.
df['{target}'] = df.get('{target}', pd.Series([None] * len(df), dtype='float32'))
df_train, df_valid, df_test = scorer.fit_transform_batch(train_frame=df, valid_frame=df, test_frame=df, apply_data_recipes=False)
print(df_train)

print('---------- Retrieve column names ----------')
print(scorer.get_column_names())

print('---------- Retrieve transformed column names ----------')
print(scorer.get_transformed_column_names())
"""


def run_example_sh() -> str:
    return """#!/bin/bash -e
# Creates a virtual environment env/, installs the scoring pipeline and runs example.py.
# Usage: ./run_example.sh [--pm pip|conda]
PM=pip
if [ "$1" = "--pm" ]; then PM="$2"; fi
if [ "$PM" = "conda" ]; then
  ENV_NAME=$(head -n 1 environment.yml | cut -d ' ' -f 2)
  conda env create -f environment.yml -n "$ENV_NAME" || true
  source activate "$ENV_NAME"
  pip install -r requirements.txt -c req_constraints_deps.txt
else
  virtualenv -p python3.8 env
  source env/bin/activate
  pip install pip==21.1 setuptools==49.6.0 wheel==0.35.1 pkginfo==1.5.0.1 -c req_constraints_deps.txt
  export SKLEARN_ALLOW_DEPRECATED_SKLEARN_PACKAGE_INSTALL=True
  pip install --use-deprecated=legacy-resolver --upgrade --upgrade-strategy only-if-needed \\
    -r requirements.txt -c req_constraints_deps.txt
fi
python example.py
"""


def http_server_py(dataset: Dataset, names: ExportNames) -> str:
    inputs = [c for c in dataset.columns if c.role != "target"]
    series = "\n".join(
        f"            pd.Series([r.get({c.name!r}) for r in rows], name={c.name!r}, dtype={c.dtype!r}),"
        for c in inputs
    )
    return f"""# Copyright 2021 H2O.ai; Proprietary License;  -*- encoding: utf-8 -*-
# JSON-RPC 2.0 scoring server on Tornado: POST http://host:9090/rpc
import json

import pandas as pd
import tornado.ioloop
import tornado.web
from tornado.options import define, options
from {names.module} import Scorer

define('port', default=9090, help='listen on the given port', type=int)
scorer = Scorer()
scoring_module_hash = '{names.experiment_key.replace("_", "-")}'


def _frame(rows):
    return pd.concat([
{series}
    ], axis=1)


class RpcHandler(tornado.web.RequestHandler):
    def post(self):
        request = json.loads(self.request.body)
        params = request.get('params')
        if params is None:
            return self._error(request, "Bad request: want 'params' in RPC request.")
        method = request.get('method')
        if method == 'score_batch':
            result = scorer.score_batch(_frame(params['rows'])).values.tolist()
        elif method == 'score':
            result = scorer.score_batch(_frame([params['row']])).values.tolist()[0]
        elif method == 'get_column_names':
            result = list(scorer.get_column_names())
        elif method == 'get_target_labels':
            result = scorer.get_target_labels() or []
        elif method == 'get_hash':
            result = scoring_module_hash
        else:
            return self._error(request, 'Method not found: %s' % method)
        self.write({{'jsonrpc': '2.0', 'id': request.get('id'), 'result': result}})

    def _error(self, request, message):
        self.write({{'jsonrpc': '2.0', 'id': request.get('id'), 'error': {{'code': 1, 'message': message}}}})


if __name__ == '__main__':
    options.parse_command_line()
    tornado.web.Application([(r'/rpc', RpcHandler)]).listen(options.port)
    tornado.ioloop.IOLoop.current().start()
"""


def readme_txt(names: ExportNames, files: Sequence[str]) -> str:
    listing = "".join(f"    {name}\n" for name in sorted(files))
    return f"""H2O DRIVERLESS AI STANDALONE PYTHON SCORING PIPELINE
(synthetic export written by h2o_dai_py_scoring_mlflow for demos and tests)

Driverless AI version: {DAI_VERSION}
Experiment: {names.module}

DIRECTORY LISTING
{listing}
QUICKSTART
    Requires Linux x86_64 and Python 3.8.
    export DRIVERLESS_AI_LICENSE_FILE="/path/to/license.sig"
    bash run_example.sh

APPENDIX C: LICENSE
    The scorer looks for a license in DRIVERLESS_AI_LICENSE_KEY (the key itself),
    DRIVERLESS_AI_LICENSE_FILE (a path to license.sig) and ~/.driverlessai/license.sig,
    in that order, and refuses to start without a valid one.
"""
