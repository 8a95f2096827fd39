"""The package is a house with wings by role (README, "How it is built"): no import circles,
wings layered, and the code that runs in the export's scorer environment imports only what that
environment is sure to have. Checked on the package's own source with ``ast``; each rule is
also shown to catch a planted violation."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import REPO
from helpers.import_graph import (
    PackageGraph,
    closure,
    confinement_violations,
    describe_cycle,
    find_cycles,
    layering_violations,
)

PACKAGE = REPO / "src" / "h2o_dai_py_scoring_mlflow"
FOUNDATION = ("errors", "settings", "version", "scratch")
# mlflow_driverless/: the prototype's command lines, aliases of the CLI.
FACES = ("__init__", "api", "cli", "demo", "entrypoint_cli", "mlflow_driverless")
# Lower layers first: a wing may import its own modules and the wings before it.
LAYERS = (
    "foundation",
    "export",
    "runtime",
    "bridge",
    "model",
    "batch",
    "checks",
    "spark",
    "databricks",
    "samples",
    "faces",
)
WINGS: Dict[str, str] = {name: "foundation" for name in FOUNDATION}
WINGS.update({name: "faces" for name in FACES})
WINGS[""] = "faces"
# What the scorer environment has besides the standard library: the export's own pins, plus
# pyarrow, which the batch launcher adds for Parquet files.
SCORER_ENV_PACKAGES = ("pandas", "numpy", "pyarrow")
# Every `python -m <module>` this package starts, and the environment it starts it in.
LAUNCHED_MODULES = {
    "batch.inside": "scorer",
    "runtime.frame_scoring": "scorer",
}


@pytest.fixture(scope="module")
def graph() -> PackageGraph:
    return PackageGraph(PACKAGE)


def _write_package(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "pkg"


def test_the_package_has_no_import_circle(graph: PackageGraph) -> None:
    """No chain of imports, at module level or inside functions, leads back to where it started."""
    assert [describe_cycle(c) for c in find_cycles(graph)] == []


def test_an_import_circle_is_found_and_named(tmp_path: Path) -> None:
    """A circle through a function-level import is reported with every module and line on it."""
    root = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "bridge/__init__.py": "",
            "bridge/launcher.py": "def f():\n    from ..model import packaging\n",
            "model/__init__.py": "",
            "model/packaging.py": "from ..bridge.launcher import f\n",
            # Type-only imports never run, so they close no circle.
            "other.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from . import api\n",
            "api.py": "from . import other\n",
        },
    )
    cycles = [describe_cycle(c) for c in find_cycles(PackageGraph(root))]
    assert cycles == [
        "bridge.launcher (line 2) -> model.packaging (line 1) -> bridge.launcher",
    ]


def test_wings_are_layered(graph: PackageGraph) -> None:
    """A wing imports only itself and the wings below it, so no two wings depend on each other."""
    assert layering_violations(graph, WINGS, LAYERS) == []


def test_a_wing_importing_a_higher_wing_is_named(tmp_path: Path) -> None:
    root = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "runtime/__init__.py": "",
            "runtime/scorer.py": "from ..batch import launch\n",
            "batch/__init__.py": "",
            "batch/launch.py": "from ..runtime import scorer\n",
        },
    )
    assert layering_violations(PackageGraph(root), WINGS, LAYERS) == [
        "runtime.scorer:1 imports batch.launch (runtime -> batch)"
    ]


def test_foundation_modules_import_only_the_standard_library(graph: PackageGraph) -> None:
    """errors, settings, version and scratch may be imported from every wing, the scorer side
    included, because they import nothing but the standard library (and each other)."""
    assert (
        confinement_violations(
            graph, FOUNDATION, allowed_external=(), allowed_internal=FOUNDATION, wings=WINGS
        )
        == []
    )


def _launched_modules(path: Path) -> List[str]:
    """Targets of ``[..., "-m", TARGET, ...]`` argv lists in a file (a literal or a constant)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.List, ast.Tuple)):
            continue
        for flag, target in zip(node.elts, node.elts[1:]):
            if isinstance(flag, ast.Constant) and flag.value == "-m":
                if isinstance(target, ast.Constant):
                    found.append(str(target.value))
                elif isinstance(target, ast.Name) and target.id in constants:
                    found.append(str(constants[target.id]))
    return found


def test_every_launched_module_is_classified(graph: PackageGraph) -> None:
    """Each `python -m h2o_dai_py_scoring_mlflow.X` the package starts is a real module, and this
    test knows which environment runs it (so the scorer-side rule below covers it)."""
    prefix = "h2o_dai_py_scoring_mlflow."
    launched = {
        name[len(prefix) :]
        for path in PACKAGE.rglob("*.py")
        for name in _launched_modules(path)
        if name.startswith(prefix)
    }
    assert launched == set(LAUNCHED_MODULES)
    assert all(name in graph.modules for name in launched)


def test_scorer_environment_code_imports_only_what_that_environment_has(
    graph: PackageGraph,
) -> None:
    """What runs beside the export's scorer (Python 3.8, the export's old pins, no MLflow, no
    PyYAML) imports only the standard library, pandas/numpy (pyarrow for Parquet), its own wing
    and the foundation, directly or through anything it imports."""
    roots = [name for name, where in LAUNCHED_MODULES.items() if where == "scorer"]
    modules = closure(graph, roots)
    assert "batch.loop" in modules
    violations = confinement_violations(
        graph,
        modules,
        allowed_external=SCORER_ENV_PACKAGES,
        allowed_internal=FOUNDATION,
        wings=WINGS,
    )
    assert violations == []


def test_a_scorer_side_import_of_another_wing_is_named(tmp_path: Path) -> None:
    """Also through a module the scorer-side entry imports, and also for a third-party package."""
    root = _write_package(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "import pathlib\n",
            "batch/__init__.py": "",
            "batch/inside.py": "import pandas\nfrom ..errors import X\nfrom . import loop\n",
            "batch/loop.py": "import yaml\nfrom ..runtime import processes\n",
            "runtime/__init__.py": "",
            "runtime/processes.py": "import subprocess\n",
        },
    )
    graph = PackageGraph(root)
    modules = closure(graph, ["batch.inside"])
    assert modules == ["batch.inside", "batch.loop", "errors", "runtime.processes"]
    violations = confinement_violations(
        graph,
        modules,
        allowed_external=SCORER_ENV_PACKAGES,
        allowed_internal=FOUNDATION,
        wings=WINGS,
    )
    assert violations == ["batch.loop:1 imports yaml", "batch.loop:2 imports runtime.processes"]


@pytest.mark.parametrize("module", ["model.worker_process", "bridge.store_server"])
def test_standalone_modules_import_nothing_of_this_package(
    graph: PackageGraph, module: str
) -> None:
    """worker_process.py and store_server.py are run by path with another Python (the model's
    3.8, another MLflow): this package is not there."""
    assert [i.where for i in graph.imports[module] if i.internal] == []


def test_the_wrapper_imports_only_the_worker_handoff(graph: PackageGraph) -> None:
    """wrapper.py is copied into every model (as code/h2o_dai_pyfunc_model.py), where this
    package is usually absent: it may reach for the worker (and its errors) only, and only
    inside a function that copes with the package missing."""
    internal = [i for i in graph.imports["model.wrapper"] if i.internal]
    assert {i.target for i in internal} == {"model.worker", "errors"}
    source = graph.modules["model.wrapper"].read_text(encoding="utf-8").splitlines()
    for found in internal:
        line = source[found.line - 1]
        assert line.startswith(" ") and line.lstrip().startswith("from h2o_dai_py_scoring_mlflow.")


def test_no_module_name_repeats_a_wing_name(graph: PackageGraph) -> None:
    """`batch/formats.py`, not `batch_formats.py`: the wing says it once."""
    wings = {name.split(".")[0] for name in graph.modules if graph.is_package(name) and name}
    offenders = [
        name
        for name in graph.modules
        if any(name.split(".")[-1].startswith(f"{wing}_") for wing in wings)
    ]
    assert offenders == []


def test_every_wing_says_who_runs_it_and_what_it_may_import(graph: PackageGraph) -> None:
    for wing in (
        "runtime",
        "export",
        "model",
        "batch",
        "bridge",
        "checks",
        "spark",
        "databricks",
        "samples",
    ):
        doc = ast.get_docstring(ast.parse(graph.modules[wing].read_text(encoding="utf-8")))
        assert doc is not None, wing
        assert "runs" in doc and "import" in doc, wing
