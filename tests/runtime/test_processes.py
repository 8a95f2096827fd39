"""Every child dies with its caller; interrupts and time limits stop whole process groups; what a
killed process left behind is swept by the next one."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import List

import pytest
from helpers.pids import at_a_terminal

from h2o_dai_py_scoring_mlflow.errors import CommandTimeoutError
from h2o_dai_py_scoring_mlflow.runtime import processes
from h2o_dai_py_scoring_mlflow.runtime.environments import sweep_abandoned_builds
from h2o_dai_py_scoring_mlflow.scratch import scratch_dir, sweep_stale_scratch


def _pids_with(marker: str) -> List[int]:
    """Live processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in command and state != "Z" and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def _wait_gone(marker: str, seconds: float = 10) -> List[int]:
    deadline = time.monotonic() + seconds
    while _pids_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _pids_with(marker)


def _nap(marker: str) -> List[str]:
    """A process that sleeps for five minutes, named by ``marker`` in /proc."""
    return [sys.executable, "-c", "import time; time.sleep(300)", marker]


def _sleeper(marker: str) -> List[str]:
    """A child that starts a grandchild (not through the funnel) and both sleep."""
    code = f"import subprocess, time; subprocess.Popen({_nap(marker)!r}); time.sleep(300)"
    return [sys.executable, "-c", code, marker]


def test_a_time_limit_stops_the_child_and_its_children_with_a_typed_error() -> None:
    marker = f"dai-timeout-{os.getpid()}"
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError, match="timed out after 1 s") as caught:
        processes.run(_sleeper(marker), timeout=1)
    assert time.monotonic() - started < 15
    assert caught.value.tip
    assert _wait_gone(marker) == []


def test_a_time_limit_also_holds_for_streamed_output() -> None:
    marker = f"dai-timeout-echo-{os.getpid()}"
    with pytest.raises(CommandTimeoutError):
        processes.run(_sleeper(marker), timeout=1, echo=True)
    assert _wait_gone(marker) == []


def _caller_script(marker: str) -> str:
    """A caller as the CLI is one: stop signals become the interrupt, which stops the child."""
    return textwrap.dedent(
        f"""
        import sys
        from h2o_dai_py_scoring_mlflow.runtime import processes
        processes.interrupt_on_stop_signals()
        print("started", flush=True)
        try:
            processes.run({_sleeper(marker)!r})
        except KeyboardInterrupt as exc:
            sys.exit(processes.exit_code_for(exc))
        """
    )


def _funnel_child(marker: str) -> List[str]:
    """A child that starts its own child through the funnel too, as the Python 3.8 side does."""
    code = "from h2o_dai_py_scoring_mlflow.runtime import processes\n"
    code += f"processes.run({_nap(marker)!r})"
    return [sys.executable, "-c", code, marker]


@pytest.mark.parametrize("how", ["run", "run_attached"])
def test_children_and_theirs_die_when_their_caller_is_killed_with_sigkill(how: str) -> None:
    """No clean-up can run in a process killed with SIGKILL: the kernel tells its children."""
    marker = f"dai-kill9-{how}-{os.getpid()}"
    extra = ", env=processes.child_environment()" if how == "run_attached" else ""
    code = (
        "from h2o_dai_py_scoring_mlflow.runtime import processes\n"
        "print('started', flush=True)\n"
        f"processes.{how}({_funnel_child(marker)!r}{extra})"
    )
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert caller.stdout is not None and caller.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while len(_pids_with(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_pids_with(marker)) == 3  # the caller, its child and the child's child
    caller.kill()
    caller.wait()
    assert _wait_gone(marker) == []


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(stop_signal: signal.Signals) -> None:
    marker = f"dai-stop-{stop_signal.name}-{os.getpid()}"
    caller = subprocess.Popen(
        at_a_terminal([sys.executable, "-c", _caller_script(marker)]),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert caller.stdout is not None and caller.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while len(_pids_with(marker)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_pids_with(marker)) == 3  # the caller, its child and the child's child
    caller.send_signal(stop_signal)
    assert caller.wait(timeout=30) == 128 + int(stop_signal)
    assert _wait_gone(marker) == []


def test_scratch_folders_of_dead_processes_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    gone = tmp_path / f"dai-mlflow-export-{dead.stdout.strip()}-abc123"
    (gone / "inner").mkdir(parents=True)
    live = tmp_path / f"dai-mlflow-export-{os.getpid()}-def456"
    live.mkdir()
    other = tmp_path / "dai-mlflow-something-else"
    other.mkdir()
    assert sweep_stale_scratch(tmp_path) == [gone]
    assert not gone.exists() and live.exists() and other.exists()


def test_scratch_folders_are_named_for_their_process_and_removed_after_use() -> None:
    with scratch_dir("batch") as folder:
        assert folder.name.startswith(f"dai-mlflow-batch-{os.getpid()}-")
        (folder / "x").write_text("x")
    assert not folder.exists()


def test_abandoned_environment_builds_are_swept_unless_their_builder_still_runs(
    tmp_path: Path,
) -> None:
    """A build killed half-way leaves its staging folder; the next build removes it, but not
    one whose builder still holds its lock."""
    abandoned = tmp_path / ".tmp-dai-mlflow-scoring-0123456789abcdef0123-x1y2"
    (abandoned / "lib").mkdir(parents=True)
    (abandoned / "lib" / "big.bin").write_bytes(b"\0" * 4096)
    busy_name = "dai-mlflow-model-fedcba9876543210fedc"
    busy = tmp_path / f".tmp-{busy_name}-z9"
    busy.mkdir()
    locks = tmp_path / ".locks"
    locks.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time\nh = open(sys.argv[1], 'a')\nfcntl.flock(h, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\ntime.sleep(60)",
         str(locks / f"{busy_name}.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert sweep_abandoned_builds(tmp_path) == [abandoned]
        assert not abandoned.exists() and busy.exists()
    finally:
        holder.kill()
        holder.wait()
    assert sweep_abandoned_builds(tmp_path) == [busy]
    with (locks / f"{busy_name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
