"""Every setting this package reads, declared once.

Settings come from environment variables. Each is declared here with its type, default and a
one-line doc; code reads them through :func:`load_settings`, never through ``os.environ``.
Booleans are parsed strictly; choices are enums. ``dai-mlflow env`` prints the resolved values
(secrets masked) and README.md carries the same table.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, List, Mapping, Optional, Tuple, Type, TypeVar

from .errors import DaiMlflowError, SettingError

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class PythonDownloads(enum.Enum):
    """Whether a missing pinned interpreter may be downloaded with ``uv python install``."""

    AUTO = "auto"
    NEVER = "never"


class EnvBuilder(enum.Enum):
    """Which tool builds Python environments."""

    AUTO = "auto"
    UV = "uv"
    PIP = "pip"


class ProjectMode(enum.Enum):
    """Where log-model builds the model: here when this Python can (auto), always here
    (inline), or always in the MLflow Project's 3.8 environment (project)."""

    AUTO = "auto"
    INLINE = "inline"
    PROJECT = "project"


class RetiredSettingError(DaiMlflowError):
    """A prototype setting whose meaning this package does not have; the message names the
    replacement."""


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingError(name, raw, "one of 1/true/yes/on or 0/false/no/off")


def _parse_path(name: str, raw: str) -> Path:
    if not raw.strip():
        raise SettingError(name, raw, "a path")
    return Path(raw).expanduser()


def _parse_text(name: str, raw: str) -> str:
    return raw.strip()


def _parse_names(name: str, raw: str) -> Tuple[str, ...]:
    """A comma-separated list; ``none`` means an empty list."""
    if raw.strip().lower() == "none":
        return ()
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", item) for item in items):
        raise SettingError(name, raw, "comma-separated package names, or none")
    return items


def _parse_version(name: str, raw: str) -> str:
    """A version to pin, or ``none`` (returned as an empty string) to leave the package out."""
    value = raw.strip()
    if value.lower() == "none":
        return ""
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+!*-]*", value):
        raise SettingError(name, raw, "a version such as 1.2.3, or none")
    return value


def _parse_batch_size(name: str, raw: str) -> int:
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise SettingError(name, raw, "a whole number of rows, 1 or more, such as 50000")
    return value


def _parse_artifact_path(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = value.split("/")
    unsafe = value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts)
    if not value or unsafe:
        raise SettingError(name, raw, "a relative artifact path without '..' such as model")
    return value


def _parse_seconds(name: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingError(name, raw, "a number of seconds greater than 0, such as 30")
    return value


def _parse_secret_reference(name: str, raw: str) -> str:
    """A Databricks secret as ``scope/key`` (never the secret itself)."""
    value = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
        raise SettingError(
            name, "(hidden)", "a Databricks secret as scope/key, such as dai/license"
        )
    return value


def _enum_parser(kind: Type[E]) -> Callable[[str, str], E]:
    def parse(name: str, raw: str) -> E:
        try:
            return kind(raw.strip().lower())
        except ValueError:
            choices = "/".join(member.value for member in kind)
            raise SettingError(name, raw, f"one of {choices}") from None

    return parse


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its name, type, default and what it does."""

    name: str
    doc: str
    parse: Callable[[str, str], T]
    default: Optional[T] = None
    default_doc: str = ""
    secret: bool = False


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A setting's value and where it came from (``environment`` or ``default``)."""

    setting: Setting[T]
    value: Optional[T]
    source: str

    def shown(self) -> str:
        """The value as it may be printed: secrets are masked, never shown."""
        if self.value is None:
            return "(unset)"
        if self.setting.secret:
            return "****** (set)"
        if isinstance(self.value, enum.Enum):
            return str(self.value.value)
        if isinstance(self.value, bool):
            return "1" if self.value else "0"
        return str(self.value)


PYTHON = Setting(
    "H2O_DAI_MLFLOW_PYTHON",
    "Explicit Python 3.8 interpreter to use; wins over every other lookup.",
    _parse_path,
)
PYTHON_VERSION = Setting(
    "H2O_DAI_MLFLOW_PYTHON_VERSION",
    "Python version to look for instead of the pin in python_env.yaml.",
    _parse_text,
    default_doc="python_env.yaml `python`",
)
PYTHON_STRICT = Setting(
    "H2O_DAI_MLFLOW_PYTHON_STRICT",
    "Refuse a same-minor interpreter (e.g. 3.8.18) when the exact pin is not found.",
    _parse_bool,
    default=False,
)
PYTHON_DOWNLOADS = Setting(
    "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS",
    "auto: try `uv python install <pin>` when the pin is missing (a failure is remembered "
    "for a day); never: do not try.",
    _enum_parser(PythonDownloads),
    default=PythonDownloads.AUTO,
)
ENV_BUILDER = Setting(
    "H2O_DAI_MLFLOW_ENV_BUILDER",
    "auto: uv when available, else venv + pip; uv or pip to force one.",
    _enum_parser(EnvBuilder),
    default=EnvBuilder.AUTO,
)
UV = Setting(
    "H2O_DAI_MLFLOW_UV",
    "uv executable to use (default: `uv` on PATH, then the uv Python package's binary).",
    _parse_path,
)
ENV_ROOT = Setting(
    "MLFLOW_ENV_ROOT",
    "Root folder of cached Python environments (shared with MLflow).",
    _parse_path,
    default=Path("~/.mlflow/envs").expanduser(),
)
BRIDGE_PYTHON = Setting(
    "H2O_DAI_MLFLOW_BRIDGE_PYTHON",
    "A Python whose MLflow can open your local tracking store (e.g. the one you ran `mlflow "
    "run` with); an entry point uses it to serve the store to MLflow 2.17 when its own MLflow "
    "cannot open it.",
    _parse_path,
)
DIAG = Setting(
    "H2O_DAI_MLFLOW_DIAG",
    "Print what the runtime shims changed and native-library diagnostics to stderr.",
    _parse_bool,
    default=False,
)
LICENSE_KEY = Setting(
    "DRIVERLESS_AI_LICENSE_KEY",
    "Driverless AI license key (contents of license.sig); never printed or logged.",
    _parse_text,
    secret=True,
)
LICENSE_FILE = Setting(
    "DRIVERLESS_AI_LICENSE_FILE",
    "Path of a Driverless AI license.sig file.",
    _parse_path,
)

EXPERIMENT = Setting(
    "H2O_DAI_MLFLOW_EXPERIMENT",
    "MLflow experiment to log into (default: the active or default experiment).",
    _parse_text,
)
ARTIFACT_PATH = Setting(
    "H2O_DAI_MLFLOW_ARTIFACT_PATH",
    "Artifact path of the logged model inside the run.",
    _parse_artifact_path,
    default="h2o_dai_scoring_pyfunc",
)
SCORING_PIPELINE_DIR = Setting(
    "SCORING_PIPELINE_DIR",
    "Default export (scoring-pipeline/ folder, scorer.zip or dbfs:/ path) for log-model.",
    _parse_text,
)
EXCLUDE_PACKAGES: Setting[Tuple[str, ...]] = Setting(
    "H2O_DAI_MLFLOW_EXCLUDE_PACKAGES",
    "Packages to leave out of the model's requirements, on top of h2o4gpu and pyorc.",
    _parse_names,
    default=(),
)
ENV_YAML_PIP_ALLOWLIST: Setting[Tuple[str, ...]] = Setting(
    "H2O_DAI_MLFLOW_ENV_YAML_PIP_ALLOWLIST",
    "environment.yml pip entries added to the requirements when missing there (none: off).",
    _parse_names,
    default=("psutil", "tabulate", "cgroupspy"),
)
IMPORTLIB_RESOURCES_VERSION = Setting(
    "H2O_DAI_MLFLOW_IMPORTLIB_RESOURCES_VERSION",
    "importlib-resources pin added for the Python 3.8 shim (none: leave it out).",
    _parse_version,
    default="5.12.0",
)
PYSPARK_VERSION = Setting(
    "H2O_DAI_MLFLOW_PYSPARK_VERSION",
    "pyspark pin added for spark_udf on Databricks (none: leave it out).",
    _parse_version,
    default="3.3.2",
)
PSUTIL_VERSION = Setting(
    "H2O_DAI_MLFLOW_PSUTIL_VERSION",
    "Pin psutil to this version instead of the export's pin (psutil always comes from pip).",
    _parse_version,
)
OPENBLAS_VERSION = Setting(
    "H2O_DAI_MLFLOW_OPENBLAS_VERSION",
    "libopenblas version in the model's conda.yaml.",
    _parse_version,
    default="0.3.30",
)
PYARROW_VERSION = Setting(
    "H2O_DAI_MLFLOW_PYARROW_VERSION",
    "pyarrow pin added to the scoring environment for Parquet files when the export has none "
    "(17.0.0 is the last release for Python 3.8).",
    _parse_version,
    default="17.0.0",
)
BATCH_SIZE = Setting(
    "H2O_DAI_MLFLOW_BATCH_SIZE",
    "Rows read, scored and written at a time by `score` (50000: the fastest size that "
    "bench/score.py measured within the memory target).",
    _parse_batch_size,
    default=50_000,
)
PROJECT_MODE = Setting(
    "H2O_DAI_MLFLOW_PROJECT",
    "Where log-model builds the model: auto (here on Python 3.8 with MLflow 2.17, else in the "
    "Project's 3.8 environment), inline (here, or an error), project (always the Project).",
    _enum_parser(ProjectMode),
    default=ProjectMode.AUTO,
)
DISABLE_PROJECT = Setting(
    "H2O_DAI_MLFLOW_DISABLE_PROJECT",
    "Prototype name: 1 means H2O_DAI_MLFLOW_PROJECT=inline.",
    _parse_bool,
    default=False,
)
FORCE_PROJECT = Setting(
    "H2O_DAI_MLFLOW_FORCE_PROJECT",
    "Prototype name: 1 means H2O_DAI_MLFLOW_PROJECT=project.",
    _parse_bool,
    default=False,
)
DISABLE_IMPORTLIB_RESOURCES = Setting(
    "H2O_DAI_MLFLOW_DISABLE_IMPORTLIB_RESOURCES",
    "Prototype name: 1 means H2O_DAI_MLFLOW_IMPORTLIB_RESOURCES_VERSION=none.",
    _parse_bool,
    default=False,
)
DISABLE_PYSPARK = Setting(
    "H2O_DAI_MLFLOW_DISABLE_PYSPARK",
    "Prototype name: 1 means H2O_DAI_MLFLOW_PYSPARK_VERSION=none.",
    _parse_bool,
    default=False,
)
DISABLE_OPENBLAS = Setting(
    "H2O_DAI_MLFLOW_DISABLE_OPENBLAS",
    "Leave libopenblas and libgfortran out of the model's conda.yaml.",
    _parse_bool,
    default=False,
)
DISABLE_LIBMAGIC = Setting(
    "H2O_DAI_MLFLOW_DISABLE_LIBMAGIC",
    "Leave libmagic out of the model's conda.yaml.",
    _parse_bool,
    default=False,
)
FORCE_CONDA = Setting(
    "H2O_DAI_MLFLOW_FORCE_CONDA",
    "Prototype setting, on: models always carry conda.yaml (MLflow uses it where the serving "
    "side supports conda) beside python_env.yaml; 0 is refused.",
    _parse_bool,
    default=True,
)
BUILD_PYORC = Setting(
    "H2O_DAI_MLFLOW_BUILD_PYORC",
    "Prototype setting: 1 is refused; run `dai-mlflow build-pyorc EXPORT` once before log-model.",
    _parse_bool,
    default=False,
)
PYORC_VERSION = Setting(
    "H2O_DAI_MLFLOW_PYORC_VERSION",
    "pyorc version `build-pyorc` builds when neither --version nor the export names one.",
    _parse_version,
    default="0.9.0",
)
DEPLOY_WAIT_TIMEOUT_S = Setting(
    "DEPLOY_WAIT_TIMEOUT_S",
    "Seconds `deploy` waits for a serving endpoint to be READY with the new version (an image "
    "build takes 10-20 minutes).",
    _parse_seconds,
    default=1800.0,
)
DEPLOY_WAIT_POLL_S = Setting(
    "DEPLOY_WAIT_POLL_S",
    "Seconds between two looks at the serving endpoint's state while `deploy` waits.",
    _parse_seconds,
    default=15.0,
)
LICENSE_SECRET = Setting(
    "H2O_DAI_MLFLOW_LICENSE_SECRET",
    "The Databricks secret (scope/key) holding the DAI license key; `deploy` gives serving "
    "endpoints a reference to it ({{secrets/scope/key}}), never the key.",
    _parse_secret_reference,
)

ALL_SETTINGS: Tuple[Setting[Any], ...] = (
    PYTHON,
    PYTHON_VERSION,
    PYTHON_STRICT,
    PYTHON_DOWNLOADS,
    ENV_BUILDER,
    UV,
    ENV_ROOT,
    BRIDGE_PYTHON,
    DIAG,
    EXPERIMENT,
    ARTIFACT_PATH,
    SCORING_PIPELINE_DIR,
    EXCLUDE_PACKAGES,
    ENV_YAML_PIP_ALLOWLIST,
    IMPORTLIB_RESOURCES_VERSION,
    PYSPARK_VERSION,
    PSUTIL_VERSION,
    OPENBLAS_VERSION,
    PYARROW_VERSION,
    BATCH_SIZE,
    PROJECT_MODE,
    DISABLE_PROJECT,
    FORCE_PROJECT,
    DISABLE_IMPORTLIB_RESOURCES,
    DISABLE_PYSPARK,
    DISABLE_OPENBLAS,
    DISABLE_LIBMAGIC,
    FORCE_CONDA,
    BUILD_PYORC,
    PYORC_VERSION,
    DEPLOY_WAIT_TIMEOUT_S,
    DEPLOY_WAIT_POLL_S,
    LICENSE_SECRET,
    LICENSE_KEY,
    LICENSE_FILE,
)


def resolve(setting: Setting[T], environ: Optional[Mapping[str, str]] = None) -> Resolved[T]:
    """Read one setting from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    raw = env.get(setting.name)
    if raw is None or (raw.strip() == "" and setting.default is not None):
        return Resolved(setting, setting.default, "default")
    return Resolved(setting, setting.parse(setting.name, raw), "environment")


@dataclass(frozen=True)
class Settings:
    """All settings resolved once, typed."""

    python: Optional[Path]
    python_version: Optional[str]
    python_strict: bool
    python_downloads: PythonDownloads
    env_builder: EnvBuilder
    uv: Optional[Path]
    env_root: Path
    bridge_python: Optional[Path]
    diag: bool
    experiment: Optional[str]
    artifact_path: str
    scoring_pipeline_dir: Optional[str]
    exclude_packages: Tuple[str, ...]
    env_yaml_pip_allowlist: Tuple[str, ...]
    importlib_resources_version: str
    pyspark_version: str
    psutil_version: Optional[str]
    openblas_version: str
    pyarrow_version: str
    batch_size: int
    project_mode: ProjectMode
    libmagic: bool
    pyorc_version: str
    deploy_wait_timeout_s: float
    deploy_wait_poll_s: float
    license_secret: Optional[str]
    license_present: bool


def _project_mode(environ: Optional[Mapping[str, str]]) -> ProjectMode:
    """H2O_DAI_MLFLOW_PROJECT, or what the prototype's DISABLE/FORCE pair asks for."""
    disable = resolve(DISABLE_PROJECT, environ).value
    force = resolve(FORCE_PROJECT, environ).value
    mode = resolve(PROJECT_MODE, environ)
    if disable and force:
        raise SettingError(FORCE_PROJECT.name, "1", f"0 while {DISABLE_PROJECT.name}=1")
    if (disable or force) and mode.source == "environment" and mode.value is not None:
        old = DISABLE_PROJECT.name if disable else FORCE_PROJECT.name
        raise SettingError(PROJECT_MODE.name, mode.value.value, f"unset while {old}=1")
    if disable:
        return ProjectMode.INLINE
    if force:
        return ProjectMode.PROJECT
    return mode.value or ProjectMode.AUTO


def _refuse_retired(environ: Optional[Mapping[str, str]]) -> None:
    if not resolve(FORCE_CONDA, environ).value:
        raise RetiredSettingError(
            f"{FORCE_CONDA.name}=0 is not supported: every model carries conda.yaml (with the "
            "native libraries DAI needs) and python_env.yaml, and the serving side picks.",
            tip="Unset it; to leave native libraries out of conda.yaml use "
            f"{DISABLE_OPENBLAS.name}=1 / {DISABLE_LIBMAGIC.name}=1.",
        )
    if resolve(BUILD_PYORC, environ).value:
        raise RetiredSettingError(
            f"{BUILD_PYORC.name}=1 is replaced by a command: `dai-mlflow build-pyorc EXPORT` "
            "puts a CPython 3.8 pyorc wheel into the export once, and log-model ships it.",
            tip=f"Unset {BUILD_PYORC.name} and run dai-mlflow build-pyorc before log-model.",
        )


def load_settings(environ: Optional[Mapping[str, str]] = None) -> Settings:
    """Resolve every setting; raise :class:`SettingError` naming the first bad one, or
    :class:`RetiredSettingError` for a prototype setting this package replaces."""
    _refuse_retired(environ)

    def get(setting: Setting[T]) -> Optional[T]:
        return resolve(setting, environ).value

    def get_or_default(setting: Setting[T]) -> T:
        value = get(setting)
        if value is None:
            raise AssertionError(f"{setting.name} is declared without a default")
        return value

    return Settings(
        python=get(PYTHON),
        python_version=get(PYTHON_VERSION) or None,
        python_strict=get_or_default(PYTHON_STRICT),
        python_downloads=get_or_default(PYTHON_DOWNLOADS),
        env_builder=get_or_default(ENV_BUILDER),
        uv=get(UV),
        env_root=get_or_default(ENV_ROOT),
        bridge_python=get(BRIDGE_PYTHON),
        diag=get_or_default(DIAG),
        experiment=get(EXPERIMENT) or None,
        artifact_path=get_or_default(ARTIFACT_PATH),
        scoring_pipeline_dir=get(SCORING_PIPELINE_DIR) or None,
        exclude_packages=get_or_default(EXCLUDE_PACKAGES),
        env_yaml_pip_allowlist=get_or_default(ENV_YAML_PIP_ALLOWLIST),
        importlib_resources_version=""
        if get(DISABLE_IMPORTLIB_RESOURCES)
        else get_or_default(IMPORTLIB_RESOURCES_VERSION),
        pyspark_version="" if get(DISABLE_PYSPARK) else get_or_default(PYSPARK_VERSION),
        psutil_version=get(PSUTIL_VERSION) or None,
        openblas_version=""
        if get(DISABLE_OPENBLAS)
        else get_or_default(OPENBLAS_VERSION) or "0.3.30",
        pyarrow_version=get_or_default(PYARROW_VERSION),
        batch_size=get_or_default(BATCH_SIZE),
        project_mode=_project_mode(environ),
        libmagic=not get(DISABLE_LIBMAGIC),
        pyorc_version=get_or_default(PYORC_VERSION) or "0.9.0",
        deploy_wait_timeout_s=get_or_default(DEPLOY_WAIT_TIMEOUT_S),
        deploy_wait_poll_s=get_or_default(DEPLOY_WAIT_POLL_S),
        license_secret=get(LICENSE_SECRET) or None,
        license_present=_license_present(environ),
    )


def _license_present(environ: Optional[Mapping[str, str]]) -> bool:
    """Whether a DAI license can be found (key, file, or ~/.driverlessai/license.sig)."""
    if resolve(LICENSE_KEY, environ).value:
        return True
    license_file = resolve(LICENSE_FILE, environ).value
    if license_file is not None:
        return license_file.is_file()
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    return (home / ".driverlessai" / "license.sig").is_file()


def describe_settings(environ: Optional[Mapping[str, str]] = None) -> List[Resolved[Any]]:
    """Every setting with its resolved value and source, for ``dai-mlflow env``."""
    return [resolve(setting, environ) for setting in ALL_SETTINGS]
