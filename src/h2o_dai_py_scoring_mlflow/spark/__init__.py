"""spark: score tables that outgrow one machine - ``score_spark`` (mapInArrow handing each batch
to one long-lived Python 3.8 worker per Spark Python worker process), shipping the model to the
executors, and `dai-mlflow score --engine spark`.

Who runs it: the caller's Python on the driver, and Spark's Python workers on every node (any
Python 3.8+ with this package, pandas, pyarrow and pyspark); the model itself runs in Python 3.8
environments built on each node. May import: the foundation, ``export``, ``runtime``,
``bridge``, ``model``, ``batch``; pyspark only inside functions (it is an optional extra).
"""
