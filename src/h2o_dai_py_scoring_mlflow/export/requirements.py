"""Read an export's requirements.txt and turn it into what can really be installed.

Real exports mix bare wheel filenames with ``name==version`` pins; they may carry comments,
blank lines, CRLF line ends, environment markers and extras. Two default exclusions keep the
export installable on a CPU host: ``h2o4gpu`` (GPU-only, conflicts with the CPU stack) and
``pyorc`` (builds from source) unless a pyorc wheel ships in the export.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PipRequirement

from ..errors import ExportError

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

DEFAULT_EXCLUSIONS: Dict[str, str] = {
    "h2o4gpu": "GPU-only build of DAI's algorithms; not installable on CPU hosts and conflicts "
    "with the CPU scikit-learn stack",
    "pyorc": "builds from source on most hosts and is only needed for ORC input; kept when a "
    "pyorc wheel ships in the export",
}


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class RequirementLine:
    """One meaningful line of requirements.txt."""

    text: str
    line_number: int
    name: Optional[str]
    wheel: Optional[str]


@dataclass(frozen=True)
class ResolvedRequirements:
    """Lines to install (wheels as absolute paths) and lines left out, with reasons."""

    install: Tuple[str, ...]
    excluded: Tuple[Tuple[RequirementLine, str], ...]

    def installs(self, name: str) -> bool:
        """Whether a line to install (requirement or wheel) is for the project ``name``."""
        texts = (Path(t).name if t.lower().endswith(".whl") else t for t in self.install)
        wanted = canonical_name(name)
        return any(line.name == wanted for line in parse_requirements("\n".join(texts)))


def _wheel_project(filename: str) -> str:
    return canonical_name(filename.split("-", 1)[0])


def parse_requirements(text: str) -> List[RequirementLine]:
    """The meaningful lines of a requirements file (comments and blanks dropped)."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        wheel = (
            line if line.lower().endswith(".whl") and "/" not in line and ";" not in line else None
        )
        if wheel is not None:
            lines.append(RequirementLine(line, number, _wheel_project(wheel), wheel))
            continue
        match = _NAME.match(line) if not line.startswith("-") else None
        name = canonical_name(match.group(1)) if match else None
        lines.append(RequirementLine(line, number, name, None))
    return lines


def resolve_requirements(
    folder: Path,
    lines: Sequence[RequirementLine],
    *,
    exclusions: Optional[Dict[str, str]] = None,
) -> ResolvedRequirements:
    """Wheel lines become paths of the wheels present in ``folder``; excluded packages drop out."""
    rules = {
        canonical_name(k): v
        for k, v in (DEFAULT_EXCLUSIONS if exclusions is None else exclusions).items()
    }
    if "pyorc" in rules and any(folder.glob("pyorc-*.whl")):
        del rules["pyorc"]
    install: List[str] = []
    excluded: List[Tuple[RequirementLine, str]] = []
    for line in lines:
        if line.name is not None and line.name in rules:
            excluded.append((line, rules[line.name]))
            continue
        if line.wheel is None:
            install.append(line.text)
            continue
        wheel = folder / line.wheel
        if not wheel.is_file():
            raise ExportError(
                f"{folder / 'requirements.txt'} line {line.line_number} names {line.wheel}, "
                "which is not in the export.",
                tip="Download the scoring pipeline from Driverless AI again; "
                "this export is incomplete.",
            )
        install.append(str(wheel))
    return ResolvedRequirements(tuple(install), tuple(excluded))


# What pip installs without a project name: URLs (also VCS ones) and local paths.
_URL_OR_PATH = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|\.{0,2}/)")


def _check_line(path: Path, line: RequirementLine) -> None:
    """Refuse a line pip could not read, naming it (options such as ``--extra-index-url``, wheel
    filenames, URLs and paths pass; ``--hash`` options after a requirement are allowed)."""
    if line.wheel is not None or line.text.startswith("-") or _URL_OR_PATH.match(line.text):
        return
    try:
        PipRequirement(re.split(r"\s+--?[A-Za-z]", line.text, maxsplit=1)[0])
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0]
        raise ExportError(
            f"{path} line {line.line_number}: {line.text!r} is not a requirement pip can read "
            f"({first}).",
            tip="Fix or remove that line: a requirement such as `name==1.2.3`, or the filename "
            "of a wheel in the export.",
        ) from None


def read_requirements_file(path: Path) -> List[RequirementLine]:
    """The meaningful lines of an export's requirements.txt, each checked as pip would read it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ExportError(
            f"{path} is missing.",
            tip="A DAI Python scoring pipeline export ships requirements.txt.",
        ) from None
    except UnicodeDecodeError as exc:
        raise ExportError(
            f"{path} is not UTF-8 text (byte {exc.start}: {exc.reason}).",
            tip="Download the scoring pipeline from Driverless AI again; its requirements.txt "
            "is plain UTF-8.",
        ) from None
    lines = parse_requirements(text)
    for line in lines:
        _check_line(path, line)
    return lines


def export_requirements(folder: Path) -> ResolvedRequirements:
    """The installable requirements of the export in ``folder``."""
    return resolve_requirements(folder, read_requirements_file(folder / "requirements.txt"))


@dataclass(frozen=True)
class Requirement:
    """One line of the model's requirements.txt and why it is there."""

    text: str
    reason: str


@dataclass(frozen=True)
class ModelRequirements:
    """Everything the logged model's environment files say, with provenance."""

    source: str
    python_version: str
    build_requirements: Tuple[str, ...]
    lines: Tuple[Requirement, ...]
    excluded: Tuple[Tuple[str, str], ...]
    openblas_version: str  # empty: no OpenBLAS in conda.yaml (H2O_DAI_MLFLOW_DISABLE_OPENBLAS)
    libmagic: bool = True  # H2O_DAI_MLFLOW_DISABLE_LIBMAGIC turns it off

    def install_lines(self, export_folder: Path) -> Tuple[str, ...]:
        """The requirement lines with wheels pointing into ``export_folder`` (for building envs)."""
        prefix = f"{ARTIFACTS_FOLDER}/"
        return tuple(
            str(export_folder / r.text[len(prefix) :]) if r.text.startswith(prefix) else r.text
            for r in self.lines
        )


ARTIFACTS_FOLDER = "artifacts/scoring-pipeline"
MLFLOW_PIN = "mlflow==2.17.2"

# Lower bounds that mlflow==2.17.2 and its dependencies put on packages DAI 1.10 exports pin
# older (DAI installs with pip's legacy resolver, which ignores such conflicts; MLflow's restore
# cannot). An export pin below the floor is raised to the floor and the line says so.
MLFLOW_FLOORS: Dict[str, Tuple[str, str]] = {
    "requests": ("2.28.1", "databricks-sdk (via mlflow-skinny 2.17.2)"),
    "pyarrow": ("4.0.0", "mlflow 2.17.2"),
}


def _version_tuple(text: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:4])


def _raise_to_floor(line: RequirementLine) -> Optional[Requirement]:
    floor = MLFLOW_FLOORS.get(line.name or "")
    match = re.fullmatch(r"\s*[A-Za-z0-9._-]+\s*==\s*([0-9][^;\s]*)\s*", line.text)
    if floor is None or match is None or _version_tuple(match.group(1)) >= _version_tuple(floor[0]):
        return None
    return Requirement(
        f"{line.name}=={floor[0]}",
        f"raised from the export's {line.text.strip()}: {floor[1]} needs >={floor[0]}",
    )


def _header(tool_version: str, source: str, what: str) -> List[str]:
    return [
        f"# {what}",
        f"# Generated by h2o_dai_py_scoring_mlflow {tool_version} from the DAI export {source}.",
        "# Each line says why it is here; excluded export lines are listed at the end.",
    ]


def _environment_yml_pins(folder: Path) -> List[str]:
    path = folder / "environment.yml"
    if not path.is_file():
        return []
    import yaml  # noqa: PLC0415  # only needed when the export ships environment.yml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ExportError(
            f"{path}: not valid YAML{line}.", tip="Fix or remove environment.yml."
        ) from None
    if data is not None and not isinstance(data, dict):
        raise ExportError(
            f"{path}: expected a mapping with `dependencies`, found a {type(data).__name__}.",
            tip="Fix or remove environment.yml.",
        )
    pins: List[str] = []
    for item in (data or {}).get("dependencies", []) or []:
        if isinstance(item, dict) and isinstance(item.get("pip"), list):
            pins.extend(str(p).strip() for p in item["pip"] if str(p).strip())
    return pins


def _export_line(
    line: RequirementLine, shipped: Dict[str, str], psutil_version: Optional[str]
) -> Requirement:
    """The model's version of one kept line of the export's requirements.txt."""
    if line.wheel is not None:
        return Requirement(f"{ARTIFACTS_FOLDER}/{line.wheel}", "wheel shipped in the export")
    if line.name in shipped:
        return Requirement(
            f"{ARTIFACTS_FOLDER}/{shipped[line.name]}",
            f"the export ships a wheel for {line.text.strip()}",
        )
    if line.name == "psutil" and psutil_version:
        return Requirement(f"psutil=={psutil_version}", "H2O_DAI_MLFLOW_PSUTIL_VERSION")
    return _raise_to_floor(line) or Requirement(
        line.text, "pinned by the export's requirements.txt"
    )


def model_requirements(
    folder: Path,
    *,
    source: str,
    python_version: str,
    build_requirements: Sequence[str],
    exclude: Sequence[str],
    env_yaml_allowlist: Sequence[str],
    importlib_resources_version: str,
    pyspark_version: str,
    psutil_version: Optional[str],
    openblas_version: str,
    libmagic: bool = True,
) -> ModelRequirements:
    """The model's requirements for the export in ``folder``, per DESIGN §5."""
    parsed = read_requirements_file(folder / "requirements.txt")
    rules = dict(DEFAULT_EXCLUSIONS)
    rules.update({name: "excluded by H2O_DAI_MLFLOW_EXCLUDE_PACKAGES" for name in exclude})
    resolved = resolve_requirements(folder, parsed, exclusions=rules)
    present = {line.name for line in parsed if line.name}
    listed_wheels = {line.name for line in parsed if line.wheel}
    shipped = {
        _wheel_project(w.name): w.name
        for w in folder.glob("*.whl")
        if _wheel_project(w.name) not in listed_wheels
    }
    excluded_lines = [ex for ex, _ in resolved.excluded]
    lines = [
        _export_line(line, shipped, psutil_version)
        for line in parsed
        if not any(line is ex for ex in excluded_lines)
    ]
    allowed = {canonical_name(n) for n in env_yaml_allowlist}
    excluded_names = {canonical_name(n) for n in rules}
    for pin in _environment_yml_pins(folder):
        name = _NAME.match(pin)
        key = canonical_name(name.group(1)) if name else ""
        if key in allowed and key not in present and key not in excluded_names:
            text = f"psutil=={psutil_version}" if key == "psutil" and psutil_version else pin
            lines.append(Requirement(text, "environment.yml pip entry (allow-list)"))
            present.add(key)
    if "psutil" not in present:
        text = f"psutil=={psutil_version}" if psutil_version else "psutil"
        lines.append(Requirement(text, "h2oaicore reads psutil; installed from pip"))
    if importlib_resources_version:
        lines.append(
            Requirement(
                f"importlib-resources=={importlib_resources_version}",
                "backport of importlib.resources.files for Python 3.8 (runtime shim)",
            )
        )
    if pyspark_version:
        lines.append(Requirement(f"pyspark=={pyspark_version}", "Spark UDF workers on Databricks"))
    lines.append(
        Requirement(
            MLFLOW_PIN, "the last MLflow release for Python 3.8; loads and serves this model"
        )
    )
    excluded = tuple((ex.text, reason) for ex, reason in resolved.excluded)
    return ModelRequirements(
        source,
        python_version,
        tuple(build_requirements),
        tuple(lines),
        excluded,
        openblas_version,
        libmagic,
    )


def render_requirements_txt(reqs: ModelRequirements, tool_version: str) -> str:
    out = _header(
        tool_version, reqs.source, "requirements.txt of an H2O DAI scoring pipeline model"
    )
    out += [f"{r.text}  # {r.reason}" for r in reqs.lines]
    out += [f"# excluded: {text}  ({reason})" for text, reason in reqs.excluded]
    return "\n".join(out) + "\n"


def render_python_env(reqs: ModelRequirements, tool_version: str) -> str:
    out = _header(
        tool_version, reqs.source, "python_env.yaml: the interpreter this model was built with"
    )
    out += [f"python: {reqs.python_version}", "build_dependencies:"]
    out += [f"- {r}" for r in reqs.build_requirements]
    out += ["dependencies:", "- -r requirements.txt"]
    return "\n".join(out) + "\n"


def render_conda_yaml(reqs: ModelRequirements, tool_version: str) -> str:
    out = _header(tool_version, reqs.source, "conda.yaml: native libraries DAI needs, then pip")
    out += [
        "name: mlflow-env",
        "channels:",
        "- conda-forge",
        "dependencies:",
        f"- python={reqs.python_version}",
        *(["- libmagic  # python-magic in DAI recipes"] if reqs.libmagic else []),
        *(
            [
                f"- libopenblas={reqs.openblas_version}  # BLAS (H2O_DAI_MLFLOW_OPENBLAS_VERSION)",
                "- libgfortran",
            ]
            if reqs.openblas_version
            else []
        ),
        "- libgcc-ng",
        *[f"- {r}" for r in reqs.build_requirements if r.startswith("pip")],
        "- pip:",
        *[f"  - {r.text}" for r in reqs.lines],
        "variables:  # blank what Databricks leaks into child Pythons",
        "  PYTHONPATH: ''",
        "  SPARK_HOME: ''",
        "  PYSPARK_PYTHON: ''",
        "  PYSPARK_DRIVER_PYTHON: ''",
    ]
    return "\n".join(out) + "\n"
