"""runtime: find Python 3.8, build and cache environments, start processes (the one subprocess
funnel), locate the Project's own files, and run an export's scorer in an environment.

Who runs it: the caller's Python and the Project environment; ``frame_scoring`` (the inside half
of ``scorer``) runs in the export's scorer environment and imports only the standard library and
pandas. May import: the foundation (``errors``, ``settings``), ``export``.
"""
