"""The exception hierarchy.

Every error we raise on purpose derives from :class:`DaiMlflowError`. Each carries what failed
(the message) and what to do about it (the tip). They are caught only at the CLI and entry-point
boundary, which prints one ``ERROR`` line and one ``TIP`` line and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple


class DaiMlflowError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(self, message: str, *, tip: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip

    def __str__(self) -> str:
        return self.message


def error_lines(exc: DaiMlflowError) -> List[str]:
    """How the CLI and the entry points report an error: one ERROR line, its details indented,
    then one TIP line per line of the tip."""
    first, *rest = exc.message.splitlines() or [""]
    lines = [f"ERROR: {first}", *(f"  {line}" for line in rest)]
    if exc.tip:
        lines.extend(f"TIP: {line}" for line in exc.tip.splitlines())
    return lines


class SettingError(DaiMlflowError):
    """An environment variable holds a value its setting does not accept."""

    def __init__(self, name: str, value: str, expected: str) -> None:
        super().__init__(
            f"{name}={value!r} is not valid: expected {expected}.",
            tip=f"Fix or unset {name}; `dai-mlflow env` lists every setting and its value.",
        )
        self.name = name


class ProjectSpecError(DaiMlflowError):
    """The MLflow Project files (python_env.yaml, MLproject) are missing or malformed."""

    def __init__(self, path: Path, problem: str, *, tip: Optional[str] = None) -> None:
        super().__init__(
            f"{path}: {problem}",
            tip=tip
            or f"Restore {path.name} from the package (or a clean checkout); "
            "it must be a YAML mapping with `python` and a `dependencies` list.",
        )
        self.path = path


class InterpreterNotFoundError(DaiMlflowError):
    """No usable Python interpreter of the pinned version could be found or installed."""

    def __init__(self, *, wanted: str, strict: bool, searched: Sequence[str]) -> None:
        lines = "\n".join(f"  - {place}" for place in searched) or "  - (nowhere to look)"
        kind = f"Python {wanted} exactly (strict mode)" if strict else f"Python {wanted}"
        super().__init__(
            f"No {kind} interpreter was found. Searched:\n{lines}",
            tip="Fix it one of three ways: (1) point H2O_DAI_MLFLOW_PYTHON at a Python 3.8 "
            "executable; (2) install one (`uv python install 3.8`, `pyenv install 3.8`, or your "
            "OS package); "
            + (
                "(3) unset H2O_DAI_MLFLOW_PYTHON_STRICT to accept any local 3.8.x."
                if strict
                else "(3) on a machine with internet access, leave "
                "H2O_DAI_MLFLOW_PYTHON_DOWNLOADS=auto so uv can download it."
            ),
        )
        self.wanted = wanted
        self.searched: Tuple[str, ...] = tuple(searched)


class CommandError(DaiMlflowError):
    """A subprocess we started failed."""

    def __init__(self, argv: Sequence[str], returncode: int, output_tail: str) -> None:
        shown = " ".join(argv)
        tail = output_tail.strip()
        detail = f"\n{tail}" if tail else ""
        super().__init__(
            f"Command failed with exit code {returncode}: {shown}{detail}",
            tip="Rerun with --verbose for the full output.",
        )
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output_tail = tail


class CommandTimeoutError(CommandError):
    """A subprocess ran past its time limit; it and everything it started were stopped."""

    def __init__(self, argv: Sequence[str], seconds: float, output_tail: str) -> None:
        super().__init__(argv, -1, output_tail)
        self.message = (
            f"Command timed out after {seconds:.0f} s and was stopped: {' '.join(argv)}"
            + (f"\n{self.output_tail}" if self.output_tail else "")
        )
        self.tip = "Check that the program is not waiting for input or a network; retry."
        self.seconds = seconds


class EnvironmentBuildError(DaiMlflowError):
    """A Python environment could not be built; nothing was left behind."""

    def __init__(self, target: Path, cause: str) -> None:
        super().__init__(
            f"Could not build the Python environment {target.name}: {cause}",
            tip="Check network access to the package index (or a warm uv cache), then retry; "
            "set H2O_DAI_MLFLOW_ENV_BUILDER=pip to build with venv + pip instead of uv.",
        )
        self.target = target


class SampleError(DaiMlflowError):
    """The synthetic DAI export could not be written where it was asked for."""


class LicenseRequiredError(DaiMlflowError):
    """The signature needs outputs, and computing them needs a DAI license that is missing."""

    def __init__(self) -> None:
        super().__init__(
            "Unity Catalog needs a model signature with outputs, and computing them needs a "
            "Driverless AI license; none was found.",
            tip="Set DRIVERLESS_AI_LICENSE_KEY or DRIVERLESS_AI_LICENSE_FILE and log again.",
        )


class ExportError(DaiMlflowError):
    """A DAI scoring pipeline export is missing a part we need or is malformed."""


class ScoreInputError(DaiMlflowError):
    """A file cannot be scored as given (format, columns, values, encoding); nothing was written."""
