"""model: the logged pyfunc model - packaging it (log_model inside Python 3.8) and its wrapper.

Who runs it: the Project environment (Python 3.8 + MLflow 2.17), or a caller that is itself such
a Python (``inline``). ``wrapper.py`` is copied into every model as ``code/h2o_dai_pyfunc_model.py``
and runs in the model's own environment; it imports nothing from this package. May import: the
foundation, ``export``, ``runtime``, ``bridge``.
"""
