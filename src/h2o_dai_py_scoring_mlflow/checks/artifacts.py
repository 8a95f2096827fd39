"""Static checks of a logged model's files: what Serving will need, read without running anything.

Layout, wheel tags (Serving runs CPython 3.8 on Linux x86_64), requirement lines, the
exclusions and their reasons, a signature with inputs and outputs, a reachable license, the
shims, and no secret (a license file or key, a Databricks token) among the files.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from ..export.files import is_license_file
from ..export.reading import SCORER_WHEEL_GLOB
from ..export.requirements import ARTIFACTS_FOLDER
from ..settings import LICENSE_KEY, Settings, resolve
from .report import CheckResult, failed, passed

WRAPPER_FILE = "code/h2o_dai_pyfunc_model.py"
SHIMS_FILE = "code/h2o_dai_shims.py"
_PYTHON_TAGS = ("cp38", "py3", "py38", "py2.py3", "py3.py2")
_ABI_TAGS = ("cp38", "none", "abi3")
_PLATFORM = re.compile(r"^(any|linux_x86_64|manylinux(1|2010|2014|_2_\d+)_x86_64)$")
_DATABRICKS_TOKEN = re.compile(rb"dapi[0-9a-f]{32}")
_SCAN_LIMIT = 16 * 2**20
_LICENSE_FIX = (
    "Set DRIVERLESS_AI_LICENSE_KEY (the key) or DRIVERLESS_AI_LICENSE_FILE here, and on the "
    "serving endpoint (a secret reference such as {{secrets/scope/key}})."
)


def _mlmodel(model_dir: Path) -> Dict[str, Any]:
    try:
        data = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def check_layout(model_dir: Path) -> CheckResult:
    missing = [
        name
        for name in ("MLmodel", "requirements.txt", "python_env.yaml", "conda.yaml", WRAPPER_FILE)
        if not (model_dir / name).is_file()
    ]
    flavor = _mlmodel(model_dir).get("flavors", {}).get("python_function", {})
    if not flavor.get("python_model"):
        missing.append("MLmodel python_function flavor with python_model")
    pipeline = model_dir / ARTIFACTS_FOLDER
    scorers = sorted(pipeline.glob(SCORER_WHEEL_GLOB)) if pipeline.is_dir() else []
    if len(scorers) != 1:
        missing.append(f"{ARTIFACTS_FOLDER}/{SCORER_WHEEL_GLOB} (found {len(scorers)})")
    if missing:
        return failed(
            "layout",
            "missing: " + "; ".join(missing),
            "Log the model again with `dai-mlflow log-model` (a complete export folder or zip).",
        )
    return passed("layout", f"MLmodel, code/, {ARTIFACTS_FOLDER}/ ({scorers[0].name})")


def _wheel_problem(name: str) -> Optional[str]:
    parts = name[: -len(".whl")].split("-")
    if len(parts) < 5:
        return "not a wheel file name"
    python, abi, platform = parts[-3], parts[-2], parts[-1]
    if not any(tag in _PYTHON_TAGS for tag in python.split(".")):
        return f"Python tag {python} (Serving runs CPython 3.8)"
    if abi not in _ABI_TAGS:
        return f"ABI tag {abi} (Serving runs CPython 3.8)"
    if not all(_PLATFORM.match(tag) for tag in platform.split(".")) and platform != "any":
        return f"platform tag {platform} (Serving runs Linux x86_64)"
    return None


def check_wheels(model_dir: Path) -> CheckResult:
    wheels = sorted((model_dir / ARTIFACTS_FOLDER).glob("*.whl"))
    problems = [f"{w.name}: {p}" for w in wheels if (p := _wheel_problem(w.name)) is not None]
    if problems:
        return failed(
            "wheel tags",
            "; ".join(problems),
            "Use the wheels of a DAI 1.10 export (cp38 or py3, Linux x86_64); rebuild pyorc "
            "with `dai-mlflow build-pyorc`.",
        )
    return passed("wheel tags", f"{len(wheels)} wheel(s), all cp38/py3 for Linux x86_64")


def check_requirement_lines(model_dir: Path) -> List[CheckResult]:
    """Every line parses and every wheel line names a file of the model; exclusions listed."""
    from packaging.requirements import InvalidRequirement, Requirement  # noqa: PLC0415

    path = model_dir / "requirements.txt"
    if not path.is_file():
        return [failed("requirements", "requirements.txt is missing", "Log the model again.")]
    bad: List[str] = []
    excluded: List[str] = []
    count = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("# excluded:"):
            excluded.append(raw[len("# excluded:") :].strip())
            continue
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        count += 1
        if line.startswith(ARTIFACTS_FOLDER + "/"):
            if not (model_dir / line).is_file():
                bad.append(f"line {number}: {line} is not in the model")
            continue
        try:
            Requirement(line)
        except InvalidRequirement as exc:
            bad.append(f"line {number}: {line!r} ({exc})")
    results = []
    if bad:
        results.append(
            failed(
                "requirements",
                "; ".join(bad),
                "Fix requirements.txt (or log the model again from a complete export).",
            )
        )
    else:
        results.append(passed("requirements", f"{count} line(s) parse; wheel lines resolve"))
    results.append(
        passed("exclusions", "; ".join(excluded) if excluded else "none (nothing left out)")
    )
    return results


def check_signature(model_dir: Path) -> CheckResult:
    signature = _mlmodel(model_dir).get("signature") or {}
    inputs = json.loads(signature.get("inputs") or "[]")
    outputs = json.loads(signature.get("outputs") or "[]")
    if not inputs or not outputs:
        return failed(
            "signature",
            f"{len(inputs)} input(s), {len(outputs)} output(s)",
            "Log the model with a DAI license in the environment: the outputs come from "
            "scoring the input example (Unity Catalog refuses a signature without outputs).",
        )
    longs = [c["name"] for c in inputs if c.get("type") in ("long", "integer")]
    detail = f"{len(inputs)} inputs, {len(outputs)} outputs"
    if longs:
        detail += f"; integer inputs {', '.join(longs)} refuse missing values"
    return passed("signature", detail)


def check_license(settings: Settings) -> CheckResult:
    if settings.license_present:
        return passed("license", "a DAI license is reachable from this environment")
    return failed("license", "no DAI license: the scorer will refuse to start", _LICENSE_FIX)


def check_shims(model_dir: Path) -> CheckResult:
    wrapper = model_dir / WRAPPER_FILE
    applies = wrapper.is_file() and "h2o_dai_shims" in wrapper.read_text(encoding="utf-8")
    if (model_dir / SHIMS_FILE).is_file() and applies:
        return passed("shims", f"{SHIMS_FILE}, applied by the wrapper before the scorer loads")
    return failed(
        "shims",
        f"{SHIMS_FILE} is missing (the scorer needs it on Python 3.8 and in Serving)",
        "Log the model again with `dai-mlflow log-model`; do not edit code/.",
    )


def _secrets_in(path: Path, key: Optional[bytes], token: Optional[bytes]) -> List[str]:
    if path.stat().st_size > _SCAN_LIMIT or path.suffix == ".whl":
        return []
    content = path.read_bytes()
    found = []
    if key and key in content:
        found.append("the DAI license key")
    if (token and token in content) or _DATABRICKS_TOKEN.search(content):
        found.append("a Databricks token")
    return found


def check_secrets(model_dir: Path) -> CheckResult:
    """No license file, license key or token anywhere in the model's files."""
    key = (resolve(LICENSE_KEY).value or "").encode() or None
    token = os.environ.get("DATABRICKS_TOKEN", "").encode() or None
    problems = []
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(model_dir)
        if is_license_file(path.name):
            problems.append(f"{relative} is a license file")
        problems.extend(f"{relative} holds {what}" for what in _secrets_in(path, key, token))
    if problems:
        return failed(
            "secrets",
            "; ".join(problems),
            "Remove it from the model (and from the export), rotate the secret, and log again: "
            "everyone who can read the experiment can download the model.",
        )
    return passed("secrets", "no license file, license key or token in the model's files")


def static_checks(model_dir: Path, settings: Settings) -> List[CheckResult]:
    """Every check that needs nothing but the model's files (and this environment)."""
    return [
        check_layout(model_dir),
        check_wheels(model_dir),
        *check_requirement_lines(model_dir),
        check_signature(model_dir),
        check_license(settings),
        check_shims(model_dir),
        check_secrets(model_dir),
    ]
