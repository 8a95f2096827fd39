"""bridge: the caller-side launcher of the Project's entry points, the tracking bridge between
MLflow versions, and the one adapter that touches MLflow internals.

Who runs it: the caller's Python (any 3.8 to 3.13, any MLflow); ``mlflow_adapter`` also runs in the
Project environment. May import: the foundation, ``export``, ``runtime``; MLflow only inside
functions (the caller's own, whatever its version).
"""
