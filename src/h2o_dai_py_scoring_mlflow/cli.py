"""``dai-mlflow``: the command line. Errors are caught here and only here."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .api import log_model
from .bridge.launcher import LogModelRequest
from .entrypoint_cli import batch_size_arg, column_names
from .errors import DaiMlflowError, error_lines
from .runtime import processes
from .runtime.interpreters import resolve_interpreter
from .runtime.project import project_dir, project_python_env
from .samples import KINDS
from .scratch import sweep_stale_scratch
from .settings import ARTIFACT_PATH, describe_settings, load_settings
from .version import __version__

LOG = logging.getLogger("h2o_dai_py_scoring_mlflow")


def _add_check_commands(commands: Any) -> None:
    """validate, serve and build-pyorc: what gets a model ready for Serving."""
    validate = commands.add_parser(
        "validate",
        help="check a logged model (or an export) for everything Serving would fail on",
    )
    target = validate.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-uri", help="runs:/..., models:/... or a model folder")
    target.add_argument(
        "scoring_dir", nargs="?", help="an export (folder, scorer.zip, dbfs:/): built, not logged"
    )
    validate.add_argument(
        "--serve", action="store_true", help="also serve it with MLflow 2.17 and post every format"
    )
    validate.add_argument("--lock", action="store_true", help="pin the model's requirements")
    validate.add_argument("--report", type=Path, help="write the report as JSON to this file")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")

    serve = commands.add_parser(
        "serve", help="serve a logged model locally with MLflow 2.17 from Python 3.8"
    )
    serve.add_argument("--model-uri", required=True, help="runs:/..., models:/... or a folder")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=5000, help="port (5000)")
    serve.add_argument("--workers", type=int, default=1, help="gunicorn workers (1)")

    pyorc = commands.add_parser(
        "build-pyorc",
        help="put a CPython 3.8 pyorc wheel into an export so log-model ships it",
    )
    pyorc.add_argument("scoring_dir", help="the export: folder, scorer.zip or dbfs:/ path")
    pyorc.add_argument("--version", help="pyorc version (default: the export's pin, else 0.9.0)")


def _add_databricks_commands(commands: Any) -> None:
    """deploy and databricks-zip: Databricks Model Serving and notebooks."""
    deploy = commands.add_parser(
        "deploy",
        help="roll a Databricks serving endpoint to a registered model version, wait for READY "
        "and smoke-test it",
    )
    deploy.add_argument("--model-name", required=True, help="registered name (catalog.schema.x)")
    deploy.add_argument("--model-version", required=True, help="the version to serve")
    deploy.add_argument("--endpoint", help="endpoint name (default: the model name, -sr rule)")
    deploy.add_argument(
        "--license-secret",
        help="Databricks secret SCOPE/KEY holding the DAI license key "
        "(or H2O_DAI_MLFLOW_LICENSE_SECRET); the endpoint gets a reference, never the key",
    )
    deploy.add_argument(
        "--model-dir", type=Path, help="a local copy of the model (default: downloaded)"
    )
    deploy.add_argument(
        "--validate", action="store_true", help="run validate first (a failed build costs ~20 min)"
    )
    deploy.add_argument("--workload-size", default="Small", help="Small, Medium or Large")
    deploy.add_argument(
        "--no-scale-to-zero", action="store_true", help="keep the endpoint warm when idle"
    )
    deploy.add_argument("--profile", help="~/.databrickscfg profile (default: the SDK's default)")
    deploy.add_argument("--json", action="store_true", help="print one JSON line with the result")

    zipped = commands.add_parser(
        "databricks-zip",
        help="write h2o_dai_py_scoring_mlflow.zip, importable from a notebook via sys.path",
    )
    zipped.add_argument("--out", type=Path, required=True, help="folder to write the zip into")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dai-mlflow",
        description="Run H2O Driverless AI Python scoring pipelines as MLflow models "
        "on Python 3.8.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    env = commands.add_parser(
        "env", help="show settings, the Python 3.8 interpreter and the env cache"
    )
    env.add_argument("--json", action="store_true", help="print one JSON object")
    env.add_argument(
        "--python-path",
        action="store_true",
        help="print only the Python 3.8 interpreter's path (e.g. to put its folder on PATH)",
    )

    commands.add_parser(
        "project-path",
        help="print the folder of the MLflow Project this package carries "
        "(for `mlflow run <path>` / `mlflow.projects.run(<path>, ...)` after a pip install)",
    )

    sample = commands.add_parser("sample", help="write a synthetic DAI export and a demo license")
    sample.add_argument("--kind", required=True, help=f"one of: {', '.join(KINDS)}")
    sample.add_argument("--out", type=Path, required=True, help="folder to write into")
    sample.add_argument("--zip", action="store_true", help="write scorer.zip instead of the folder")
    sample.add_argument("--rows", type=int, default=3000, help="training rows (default 3000)")
    sample.add_argument("--force", action="store_true", help="replace a non-empty --out")

    log = commands.add_parser(
        "log-model", help="log a DAI export as a Python 3.8 pyfunc model (from any Python)"
    )
    log.add_argument(
        "scoring_dir",
        nargs="?",
        help="scoring-pipeline/ folder, scorer.zip or dbfs:/ path (default: SCORING_PIPELINE_DIR)",
    )
    log.add_argument(
        "--artifact-path", help="artifact path in the run (default: h2o_dai_scoring_pyfunc)"
    )
    log.add_argument("--registered-model-name", help="register the model under this name")
    log.add_argument("--experiment", help="MLflow experiment name (default: active/default)")
    log.add_argument("--apply-data-recipes", action="store_true", help="score with data recipes")
    log.add_argument("--input-example", type=Path, help="CSV or JSON records file of input rows")
    log.add_argument("--json", action="store_true", help="print one JSON line with the result")

    score = commands.add_parser(
        "score",
        help="score a CSV / Parquet / JSON lines file with a DAI export or logged model, "
        "in bounded memory",
    )
    source = score.add_mutually_exclusive_group()
    source.add_argument(
        "--scoring-dir",
        help="DAI export: folder, scorer.zip or dbfs:/ path (or SCORING_PIPELINE_DIR)",
    )
    source.add_argument(
        "--model-uri", help="model logged by log-model: runs:/..., models:/... or a local folder"
    )
    score.add_argument("--input-path", required=True, help="file to score (format by extension)")
    score.add_argument(
        "--output-path", required=True, help="file to write (format by extension; replaced)"
    )
    score.add_argument(
        "--batch-size",
        type=batch_size_arg,
        help="rows per batch (default: H2O_DAI_MLFLOW_BATCH_SIZE, 50000)",
    )
    recipes = score.add_mutually_exclusive_group()
    recipes.add_argument(
        "--apply-data-recipes", dest="apply_data_recipes", action="store_const", const=True
    )
    recipes.add_argument(
        "--no-apply-data-recipes",
        dest="apply_data_recipes",
        action="store_const",
        const=False,
        help="(default: the model's setting; off for an export)",
    )
    score.add_argument(
        "--keep-columns",
        type=column_names,
        default=(),
        help="input columns copied into the output, e.g. ids: a,b or a JSON list",
    )
    score.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: this machine, in bounded memory (default); spark: a Spark cluster or local "
        "Spark, writing a folder of part files (needs --model-uri and the [spark] extra)",
    )
    score.add_argument(
        "--spark-master", help="Spark master URL (default: local[*] or the cluster's)"
    )
    score.add_argument("--json", action="store_true", help="print one JSON line with the result")

    _add_check_commands(commands)

    _add_databricks_commands(commands)

    demo = commands.add_parser(
        "demo", help="sample -> Python 3.8 environment -> score example rows"
    )
    demo.add_argument("--kind", default="binary", help=f"one of: {', '.join(KINDS)}")
    demo.add_argument("--out", type=Path, default=Path("dai-mlflow-demo"), help="working folder")
    demo.add_argument("--force", action="store_true", help="replace a non-empty --out")
    return parser


def _env_report() -> Dict[str, Any]:
    settings = load_settings()
    python_env = project_python_env()
    report: Dict[str, Any] = {
        "version": __version__,
        "project": str(project_dir()),
        "pin": python_env.python,
        "env_root": str(settings.env_root),
        "settings": [
            {"name": r.setting.name, "value": r.shown(), "source": r.source, "doc": r.setting.doc}
            for r in describe_settings()
        ],
    }
    try:
        resolution = resolve_interpreter(settings, pin=python_env.python)
    except DaiMlflowError as exc:
        report["interpreter"] = None
        report["interpreter_error"] = exc.message
        return report
    report["interpreter"] = {
        "path": str(resolution.interpreter.path),
        "version": str(resolution.interpreter.version),
        "reason": resolution.reason,
        "warning": resolution.warning,
        "searched": list(resolution.searched),
    }
    return report


def _print_env(report: Dict[str, Any]) -> None:
    print(f"dai-mlflow {report['version']}")
    print(f"MLflow Project:   {report['project']}")
    print(f"Python pin:       {report['pin']} (python_env.yaml)")
    print(f"Env cache root:   {report['env_root']}")
    interpreter = report["interpreter"]
    if interpreter is None:
        print(f"Interpreter:      none found\n{report['interpreter_error']}")
    else:
        print(f"Interpreter:      {interpreter['path']} (Python {interpreter['version']})")
        print(f"  why:            {interpreter['reason']}")
        for place in interpreter["searched"]:
            print(f"  searched:       {place}")
    print("Settings:")
    width = max(len(s["name"]) for s in report["settings"])
    for item in report["settings"]:
        print(f"  {item['name']:<{width}}  {item['value']}  [{item['source']}]")


def _command_env(args: argparse.Namespace) -> int:
    if args.python_path:
        settings = load_settings()
        resolution = resolve_interpreter(settings, pin=project_python_env().python)
        print(resolution.interpreter.path)
        return 0
    report = _env_report()
    if args.json:
        print(json.dumps(report))
    else:
        _print_env(report)
    return 0


def _command_project_path(args: argparse.Namespace) -> int:
    print(project_dir())
    return 0


def _command_sample(args: argparse.Namespace) -> int:
    from .samples import build_sample  # noqa: PLC0415  # numpy and pandas: only when needed

    result = build_sample(
        args.kind, args.out, zip_output=args.zip, rows=args.rows, force=args.force
    )
    print(f"scoring pipeline: {result.pipeline}")
    print(f"demo license:     {result.license_file}")
    return 0


def _format_table(header: Sequence[str], rows: Sequence[Sequence[float]]) -> List[str]:
    cells = [[f"{v:.6f}" for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return lines


def _command_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo  # noqa: PLC0415  # numpy and pandas: only when needed

    result = run_demo(
        load_settings(), kind=args.kind, out=args.out, force=args.force, echo=args.verbose
    )
    logged = result.logged
    print(f"sample export:    {result.sample.pipeline}")
    print(f"logged model:     {logged['model_uri']} -> {result.model_dir}")
    print(
        f"registered:       {logged['registered_model_name']} "
        f"version {logged['registered_model_version']}"
    )
    print(f"restored with:    {result.interpreter} (MLflow 2.17, clean env from the model's files)")
    verdict = "yes" if result.matches_scorer else "NO"
    print(f"same as scorer:   {verdict}")
    print(f"predictions for {len(result.rows)} example rows:")
    for line in _format_table(result.columns, result.rows):
        print(f"  {line}")
    batch = result.batch
    print(
        f"batch scored:     {batch.rows:,} rows in {batch.seconds:.1f} s "
        f"({batch.rows_per_second:,.0f} rows/s) -> {batch.output_path}"
    )
    print(f"same as scorer:   {'yes' if result.batch_matches_scorer else 'NO'}")
    return 0 if result.matches_scorer and result.batch_matches_scorer else 1


def _command_log_model(args: argparse.Namespace) -> int:
    settings = load_settings()
    scoring_dir = args.scoring_dir or settings.scoring_pipeline_dir
    if not scoring_dir:
        raise DaiMlflowError(
            "No scoring pipeline given.",
            tip="Pass the scoring-pipeline/ folder or scorer.zip, or set SCORING_PIPELINE_DIR.",
        )
    if args.artifact_path is not None:
        ARTIFACT_PATH.parse("--artifact-path", args.artifact_path)
    request = LogModelRequest(
        scoring_dir=scoring_dir,
        artifact_path=args.artifact_path,
        registered_model_name=args.registered_model_name,
        apply_data_recipes=args.apply_data_recipes,
        input_example=args.input_example,
        experiment=args.experiment,
    )
    result = log_model(settings, request, echo=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"run id:           {result['run_id']}")
        print(f"model URI:        {result['model_uri']}")
        if result.get("registered_model_name"):
            print(
                f"registered:       {result['registered_model_name']} "
                f"version {result['registered_model_version']}"
            )
    return 0


def _command_score(args: argparse.Namespace) -> int:
    from .batch.launch import ScoreRequest, score_file  # noqa: PLC0415

    settings = load_settings()
    scoring_dir = args.scoring_dir
    if not scoring_dir and not args.model_uri:
        scoring_dir = settings.scoring_pipeline_dir
    request = ScoreRequest(
        input_path=args.input_path,
        output_path=args.output_path,
        scoring_dir=scoring_dir,
        model_uri=args.model_uri,
        batch_size=args.batch_size,
        apply_data_recipes=args.apply_data_recipes,
        keep_columns=tuple(args.keep_columns),
    )
    if args.engine == "spark":
        from .spark.job import score_file_with_spark  # noqa: PLC0415  # the [spark] extra

        summary = score_file_with_spark(settings, request, master=args.spark_master)
    else:
        summary = score_file(settings, request, echo=args.verbose)
    if args.json:
        print(summary.to_json())
        return 0
    print(
        f"scored {summary.rows:,} rows in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s, batches of {summary.batch_size:,}, "
        f"peak memory {summary.peak_memory_mib:,.0f} MiB)"
    )
    print(f"output:           {summary.output_path}")
    print(f"predictions:      {', '.join(summary.prediction_columns)}")
    if summary.metrics_run_id:
        print(f"metrics logged:   run {summary.metrics_run_id}")
    return 0


def _command_validate(args: argparse.Namespace) -> int:
    from .checks.validation import ValidateRequest, validate  # noqa: PLC0415  # numpy

    request = ValidateRequest(
        model_uri=args.model_uri,
        scoring_dir=args.scoring_dir,
        serve=args.serve,
        lock=args.lock,
    )
    report = validate(load_settings(), request, echo=args.verbose)
    if args.report is not None:
        args.report.write_text(report.to_json() + "\n", encoding="utf-8")
    print(json.dumps(report.to_dict()) if args.json else report.table())
    if report.ok:
        return 0
    failures = report.failures()
    names = ", ".join(f.name for f in failures)
    print(f"ERROR: validation failed: {len(failures)} check(s): {names}.", file=sys.stderr)
    print(f"TIP: {failures[0].fix}", file=sys.stderr)
    return 1


def _command_serve(args: argparse.Namespace) -> int:
    from .checks.serving import serve_command, serve_environment  # noqa: PLC0415
    from .model.environment import model_environment  # noqa: PLC0415
    from .model.location import open_model  # noqa: PLC0415

    settings = load_settings()
    with open_model(args.model_uri) as model:
        env = model_environment(model.path, settings, echo=True)
        argv = serve_command(env, model.path, host=args.host, port=args.port, workers=args.workers)
        LOG.info(
            "Serving %s with MLflow 2.17 at http://%s:%d (%d worker(s)); Ctrl-C stops it",
            args.model_uri, args.host, args.port, args.workers,
        )  # fmt: skip
        return processes.run_attached(argv, env=serve_environment(env))


def _command_build_pyorc(args: argparse.Namespace) -> int:
    from .checks.pyorc import build_pyorc, pyorc_version_of  # noqa: PLC0415

    version = args.version or pyorc_version_of(args.scoring_dir) or load_settings().pyorc_version
    result = build_pyorc(load_settings(), args.scoring_dir, version=version, echo=True)
    state = "added" if result.changed else "already there"
    print(f"pyorc wheel:      {Path(result.wheel).name} ({state}; from {result.source})")
    print(f"export:           {args.scoring_dir} (requirements.txt names the wheel)")
    return 0


def _command_deploy(args: argparse.Namespace) -> int:
    from .databricks.deploy import DeployRequest, deploy  # noqa: PLC0415  # [databricks] extra

    request = DeployRequest(
        model_name=args.model_name,
        version=str(args.model_version),
        endpoint=args.endpoint,
        license_secret=args.license_secret,
        model_dir=args.model_dir,
        validate=args.validate,
        workload_size=args.workload_size,
        scale_to_zero=not args.no_scale_to_zero,
        profile=args.profile,
    )
    result = deploy(load_settings(), request, progress=LOG.info)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(f"endpoint:         {result.endpoint} ({'created' if result.created else 'updated'})")
        print(f"serving:          {result.model_name} version {result.version}")
        print(f"ready after:      {result.seconds:.0f} s; smoke test: {result.smoke_rows} rows ok")
    return 0


def _command_databricks_zip(args: argparse.Namespace) -> int:
    from .databricks.package_zip import write_package_zip  # noqa: PLC0415

    target = write_package_zip(args.out)
    print(f"wrote {target}")
    print(
        f"use:  import sys; sys.path.insert(0, {str(target)!r}); import h2o_dai_py_scoring_mlflow"
    )
    return 0


_COMMANDS = {
    "env": _command_env,
    "project-path": _command_project_path,
    "sample": _command_sample,
    "demo": _command_demo,
    "log-model": _command_log_model,
    "score": _command_score,
    "validate": _command_validate,
    "serve": _command_serve,
    "build-pyorc": _command_build_pyorc,
    "deploy": _command_deploy,
    "databricks-zip": _command_databricks_zip,
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="dai-mlflow: %(message)s",
        stream=sys.stderr,
    )
    processes.interrupt_on_stop_signals()
    sweep_stale_scratch()
    try:
        return _COMMANDS[args.command](args)
    except DaiMlflowError as exc:
        if args.verbose:
            traceback.print_exc()
        print("\n".join(error_lines(exc)), file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print("ERROR: interrupted; nothing half-written was kept.", file=sys.stderr)
        return processes.exit_code_for(exc)
    except Exception as exc:
        if not type(exc).__module__.startswith("mlflow."):
            raise
        if args.verbose:
            traceback.print_exc()
        print(_mlflow_refusal(exc), file=sys.stderr)
        return 1


def _mlflow_refusal(exc: Exception) -> str:
    """Your MLflow's own error (a store it refuses, a run or model it cannot find), without a
    traceback: its message is the actionable part."""
    message = getattr(exc, "message", None) or str(exc)
    first, *rest = str(message).strip().splitlines() or [type(exc).__name__]
    lines = [f"ERROR: MLflow: {first}", *(f"  {line}" for line in rest)]
    lines.append("TIP: This is your MLflow's own message; --verbose shows the traceback.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())


def log_model_job(argv: Optional[Sequence[str]] = None) -> int:
    """The Databricks job's wheel entry point (`python_wheel_task`, named parameters): log the
    export at ``--scoring_dir`` (default SCORING_PIPELINE_DIR: a Volume or DBFS path) with the
    experiment and artifact path from the parameters or the settings. Raises SystemExit with a
    non-zero code on failure, so the job run fails."""
    parser = argparse.ArgumentParser(prog="dai-mlflow-log-model-job")
    for name in ("scoring_dir", "registered_model_name", "experiment", "artifact_path"):
        parser.add_argument(f"--{name}", f"--{name.replace('_', '-')}", dest=name, default="")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    command = ["log-model", "--json"]
    if args.scoring_dir:
        command.insert(1, args.scoring_dir)
    for name in ("registered_model_name", "experiment", "artifact_path"):
        value = getattr(args, name)
        if value:
            command += [f"--{name.replace('_', '-')}", value]
    code = main(command)
    if code:
        raise SystemExit(code)
    return 0
