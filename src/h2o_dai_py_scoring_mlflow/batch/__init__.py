"""batch: score files of any size in bounded memory - file formats, the job, the loop, the
inside-scorer process and its launcher.

Who runs it: ``launch`` runs on the caller's Python (and in the Project environment under
``mlflow run -e score``); ``inside``, ``loop`` and ``formats`` run in the export's scorer
environment and import only the standard library, pandas/numpy (pyarrow for Parquet), this wing
and the foundation; ``job`` runs on both sides. ``launch`` may import: the foundation, ``export``,
``runtime``, ``bridge``.
"""
