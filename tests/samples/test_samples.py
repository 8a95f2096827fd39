"""The synthetic export has the real 1.10 on-disk format, and bad requests write nothing."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from h2o_dai_py_scoring_mlflow.errors import SampleError
from h2o_dai_py_scoring_mlflow.export.reading import example_columns, open_pipeline_folder
from h2o_dai_py_scoring_mlflow.export.requirements import export_requirements, parse_requirements
from h2o_dai_py_scoring_mlflow.samples import build_sample
from h2o_dai_py_scoring_mlflow.samples.wheel_sources.h2oaicore import licensing

ROWS = 400


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_folder_layout_and_wheels(tmp_path: Path) -> None:
    result = build_sample("binary", tmp_path / "out", rows=ROWS)
    folder = result.pipeline
    assert folder == tmp_path / "out" / "scoring-pipeline"
    names = {p.name for p in folder.iterdir()}
    for expected in (
        "requirements.txt",
        "req_constraints_deps.txt",
        "environment.yml",
        "example.py",
        "run_example.sh",
        "http_server.py",
        "README.txt",
        "h2oaicore-1.10.7.3-cp38-cp38-linux_x86_64.whl",
    ):
        assert expected in names
    scorer = open_pipeline_folder(folder)
    assert re.fullmatch(
        r"scoring_h2oai_experiment_[0-9a-f]{8}(_[0-9a-f]{4}){3}_[0-9a-f]{12}-1\.0\.0-py3-none-any\.whl",
        scorer.scorer_wheel.name,
    )
    with zipfile.ZipFile(scorer.scorer_wheel) as wheel:
        entries = wheel.namelist()
    assert f"{scorer.scorer_module}/scorer.py" in entries
    assert f"{scorer.scorer_module}/fitted_model.pickle" in entries
    assert result.license_file == tmp_path / "out" / "license.sig"
    assert licensing.decode_license(result.license_file.read_text())["product"] == "DriverlessAI"


def test_requirements_mix_wheel_filenames_and_pins(tmp_path: Path) -> None:
    folder = build_sample("regression", tmp_path / "out", rows=ROWS).pipeline
    lines = parse_requirements((folder / "requirements.txt").read_text())
    wheels = [line.wheel for line in lines if line.wheel]
    assert len(wheels) == 2 and all("/" not in w for w in wheels)
    pins = {line.text for line in lines if not line.wheel}
    assert {"h2o4gpu==0.20.0", "pyorc==0.9.0", "numpy==1.22.0"} <= pins
    resolved = export_requirements(folder)
    assert sorted(line.name for line, _ in resolved.excluded) == ["h2o4gpu", "pyorc"]
    assert all(Path(item).is_file() for item in resolved.install if item.endswith(".whl"))


def test_environment_yml_starts_with_name_and_nests_pip(tmp_path: Path) -> None:
    text = (
        build_sample("binary", tmp_path / "out", rows=ROWS).pipeline / "environment.yml"
    ).read_text()
    assert text.splitlines()[0] == "name: h2oai_scoring_env"
    assert "  - pip:\n    - psutil==5.8.0\n    - tabulate==0.9.0\n    - cgroupspy==0.2.2\n" in text


def test_example_py_header_table_and_series(tmp_path: Path) -> None:
    text = (build_sample("binary", tmp_path / "out", rows=ROWS).pipeline / "example.py").read_text()
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"# -+", line)]
    assert len(rules) == 3
    table = [line[2:] for line in lines[rules[0] : rules[2] + 1]]
    dashes = table[0]
    assert set(dashes) == {"-"} and table[2] == dashes
    assert table[1].split() == ["Name", "Type", "Range"]
    assert all(len(line) == len(dashes) for line in table)
    rows = {line.split()[0]: line for line in table[3:-1]}
    assert rows["EDUCATION"].split()[1:] == ["object", "-"]
    assert rows["LIMIT_BAL"].rstrip().endswith("or None")
    assert re.search(r"AGE\s+int32\s+\[\d+, \d+\]", rows["AGE"])
    names = re.findall(r"name=['\"]([^'\"]+)['\"]", text)
    assert names == list(rows)
    columns = example_columns(Path(tmp_path / "out" / "scoring-pipeline" / "example.py"))
    assert [c[0] for c in columns] == names
    assert all(len(values) == 12 for _, _, values in columns)


def test_multiclass_labels_keep_spaces_and_commas(tmp_path: Path) -> None:
    text = (
        build_sample("multiclass", tmp_path / "out", rows=ROWS).pipeline / "http_server.py"
    ).read_text()
    assert "pd.Series" in text


def test_timeseries_example_rows_include_the_target_column(tmp_path: Path) -> None:
    folder = build_sample("timeseries", tmp_path / "out", rows=ROWS).pipeline
    columns = dict((name, values) for name, _, values in example_columns(folder / "example.py"))
    assert list(columns) == ["state", "week_start", "unweighted_ili"]
    assert None in columns["unweighted_ili"] and any(
        v is not None for v in columns["unweighted_ili"]
    )


def test_builds_are_deterministic(tmp_path: Path) -> None:
    first = build_sample("multiclass", tmp_path / "a", rows=ROWS).pipeline
    second = build_sample("multiclass", tmp_path / "b", rows=ROWS).pipeline
    for name in sorted(p.name for p in first.iterdir()):
        assert _digest(first / name) == _digest(second / name), name


def test_zip_output_holds_one_scoring_pipeline_folder(tmp_path: Path) -> None:
    result = build_sample("binary", tmp_path / "out", rows=ROWS, zip_output=True)
    assert result.pipeline == tmp_path / "out" / "scorer.zip"
    with zipfile.ZipFile(result.pipeline) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"scoring-pipeline"}
    assert "scoring-pipeline/requirements.txt" in names
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["license.sig", "scorer.zip"]


def test_core_wheel_is_refused_by_pip_on_other_pythons(tmp_path: Path) -> None:
    folder = build_sample("binary", tmp_path / "out", rows=ROWS).pipeline
    wheel = folder / "h2oaicore-1.10.7.3-cp38-cp38-linux_x86_64.whl"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "is not a supported wheel on this platform" in done.stderr


def test_unknown_kind_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="Unknown sample kind 'forecasting'"):
        build_sample("forecasting", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(SampleError, match="already exists and is not empty"):
        build_sample("binary", out, rows=ROWS)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    build_sample("binary", out, rows=ROWS, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["license.sig", "scoring-pipeline"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("out", ["/proc/dai-sample", "file-in-the-way/out"])
def test_unwritable_out_is_refused(tmp_path: Path, out: str) -> None:
    (tmp_path / "file-in-the-way").write_text("")
    target = Path(out) if out.startswith("/") else tmp_path / out
    with pytest.raises(SampleError, match="Cannot write to"):
        build_sample("binary", target, rows=ROWS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file-in-the-way"]


def test_rows_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="--rows 10 is out of range"):
        build_sample("binary", tmp_path / "out", rows=10)
