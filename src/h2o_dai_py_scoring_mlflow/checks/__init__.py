"""checks: catch Serving failures before Serving - `validate` (static checks of a model's files,
resolution for the serving platform, the clean-environment rehearsal, `--serve`, the report,
`--lock`), `serve`, and `build_pyorc`.

Who runs it: the caller's Python (and the Project environment under `mlflow run -e validate`);
what it checks runs in Python 3.8 environments built from a model's own files. May import: the
foundation, ``export``, ``runtime``, ``bridge``, ``model``.
"""
