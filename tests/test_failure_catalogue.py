"""Every case of the failure catalogue (tests/fixtures/broken_*.py) fails the way users need:
exit status 1, one ERROR line naming the cause, no traceback, nothing written outside the
temporary folder and nothing partial at the target; a broken request to `dai-mlflow serve` gets
a 4xx naming the cause and the server goes on scoring."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
from fixtures.broken_exports import BROKEN_EXPORTS
from fixtures.broken_inputs import BROKEN_INPUTS
from fixtures.broken_requests import BROKEN_REQUESTS, GOOD_ROW
from helpers.cli import cli_env, dai_mlflow
from helpers.servers import free_port, wait_for_ping

from h2o_dai_py_scoring_mlflow.samples import SampleResult


def test_the_catalogue_holds_at_least_40_cases() -> None:
    assert len(BROKEN_EXPORTS) + len(BROKEN_INPUTS) + len(BROKEN_REQUESTS) >= 40


def _tree(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_clear_error(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 1, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert words in errors[0], errors[0][:2000]
    assert len(errors[0]) < 1000, "an error line must stay readable"


@pytest.fixture
def temporary(tmp_path: Path) -> Path:
    """The TMPDIR of the command under test: it must be empty again when the command ends."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN_EXPORTS))
def test_a_broken_export_fails_log_model_clearly_and_leaves_nothing(
    name: str,
    sample_factory: Callable[[str], SampleResult],
    env_root: Path,
    temporary: Path,
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    broken = BROKEN_EXPORTS[name].make(Path(sample_factory("binary").pipeline), source)
    before = _tree(source)
    work = tmp_path / "work"
    work.mkdir()
    done = dai_mlflow(["log-model", str(broken)], work, cli_env(env_root, TMPDIR=str(temporary)))
    _one_clear_error(done, BROKEN_EXPORTS[name].error)
    assert done.stderr.strip().splitlines()[-1].startswith("TIP: ")
    assert _tree(work) == [] and _tree(temporary) == []
    assert _tree(source) == before
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


@pytest.fixture(scope="module")
def score_env(sample_factory: Callable[[str], SampleResult], env_root: Path) -> Dict[str, str]:
    binary = sample_factory("binary")
    return cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(binary.license_file))


@pytest.mark.parametrize("name", sorted(BROKEN_INPUTS))
def test_a_broken_input_fails_score_clearly_and_leaves_nothing(
    name: str,
    sample_factory: Callable[[str], SampleResult],
    score_env: Dict[str, str],
    temporary: Path,
    tmp_path: Path,
) -> None:
    case = BROKEN_INPUTS[name]
    folder = tmp_path / "data"
    folder.mkdir()
    source = folder / case.name
    source.write_bytes(case.content)
    out = folder / "out.csv"
    args = ["score", "--scoring-dir", str(sample_factory("binary").pipeline),
            "--input-path", str(source), "--output-path", str(out), *case.args]  # fmt: skip
    done = dai_mlflow(args, tmp_path, {**score_env, "TMPDIR": str(temporary)})
    _one_clear_error(done, case.error)
    assert _tree(folder) == [case.name], "no output and no partial file"
    assert _tree(temporary) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "tmp"]


@pytest.fixture(scope="module")
def served(
    logged_binary_model: Path,
    sample_factory: Callable[[str], SampleResult],
    env_root: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """One `dai-mlflow serve` of the binary model for every request case; its invocations URL."""
    binary = sample_factory("binary")
    env = cli_env(env_root, DRIVERLESS_AI_LICENSE_FILE=str(binary.license_file))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "h2o_dai_py_scoring_mlflow.cli", "serve",
         "--model-uri", str(logged_binary_model), "--port", str(port)],
        cwd=tmp_path_factory.mktemp("serve"), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_ping(port, server)
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        server.terminate()
        server.wait(timeout=60)


def _post(url: str, body: bytes, content_type: str) -> Tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BROKEN_REQUESTS))
def test_a_broken_request_gets_a_clear_4xx_and_the_server_keeps_scoring(
    name: str, served: str
) -> None:
    case = BROKEN_REQUESTS[name]
    status, answer = _post(served, case.body, case.content_type)
    assert status == case.status, answer[:2000]
    assert case.error in answer, answer[:2000]
    good = json.dumps({"dataframe_records": [GOOD_ROW]}).encode()
    status, answer = _post(served, good, "application/json")
    assert status == 200 and len(json.loads(answer)["predictions"]) == 1
