"""Make the library importable for an entry point, wherever the Project runs from.

In the environments `dai-mlflow` builds, the package is installed. Under `mlflow run` with
MLflow's own environment managers it is not, so it is loaded from the Project's own copy: the
checkout's ``src/`` folder, or the installed package that holds this ``_project`` folder (loaded
by path, without putting a foreign site-packages on ``sys.path``).
"""

import importlib.util
import sys
from pathlib import Path

PACKAGE = "h2o_dai_py_scoring_mlflow"


def import_library():
    if importlib.util.find_spec(PACKAGE) is not None:
        return
    project = Path(__file__).resolve().parent.parent
    for folder in (project / "src" / PACKAGE, project.parent):
        init = folder / "__init__.py"
        if folder.name == PACKAGE and init.is_file():
            spec = importlib.util.spec_from_file_location(
                PACKAGE, init, submodule_search_locations=[str(folder)]
            )
            module = importlib.util.module_from_spec(spec)
            sys.modules[PACKAGE] = module
            spec.loader.exec_module(module)
            return
    raise SystemExit(
        f"ERROR: cannot find the {PACKAGE} library next to {project}\nTIP: run the Project "
        "from a checkout or from an installed h2o-dai-py-scoring-mlflow wheel."
    )
