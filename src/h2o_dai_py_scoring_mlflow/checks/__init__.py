"""checks: catch Serving failures before Serving - the clean-environment rehearsal (validate and
build_pyorc join it).

Who runs it: the caller's Python; what it checks runs in environments built from a model's own
files. May import: the foundation, ``export``, ``runtime``, ``bridge``, ``model``.
"""
