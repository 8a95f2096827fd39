"""Runtime fixes that make a DAI 1.10 scorer start wherever MLflow runs it.

Copied into every logged model (``code/``) and applied explicitly, before the first DAI import,
by whatever loads the model. Standard library only, Python 3.8 compatible, idempotent. Each fix
logs what it changed at debug level (to stderr as well with H2O_DAI_MLFLOW_DIAG=1) and returns
a description; none swallows an error silently.

=================================  ==========================================================
fix                                trigger
=================================  ==========================================================
``importlib.resources.files``      3.9+ API called on 3.8; taken from ``importlib_resources``
stream ``fileno()``                hosted runtimes wrap stdout/stderr (``StreamToLogger``)
``psutil.RLIM_INFINITY/RLIMIT_*``  psutil builds without them; h2oaicore reads them
Spark leakage                      Databricks' Python 3.12 pyspark on sys.path / in the env
writable working directory         DAI writes ``./tmp`` logs; serving CWDs can be read-only
native libraries                   OpenBLAS / libmagic in a conda env's ``lib/``, which
                                   pip-installed wheels' loader lookups never search
=================================  ==========================================================
"""

import ctypes
import importlib
import importlib.util
import io
import logging
import os
import resource
import sys
import tempfile

LOG = logging.getLogger("h2o_dai_shims")
DIAG_VARIABLE = "H2O_DAI_MLFLOW_DIAG"
_SPARK_VARIABLES = ("SPARK_HOME", "PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")
_PSUTIL_LIMITS = (
    "RLIM_INFINITY",
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
)
# What DAI's compiled code and python-magic load by soname, in load order (OpenBLAS needs
# libgfortran's symbols first). Preloaded from the active environment's lib/ with global
# symbols, a later dlopen of the soname finds the loaded library instead of searching.
_NATIVE_LIBRARIES = (
    ("libgfortran", ("libgfortran.so.5", "libgfortran.so.4", "libgfortran.so")),
    ("OpenBLAS", ("libopenblas.so.0", "libopenblas.so")),
    ("libmagic", ("libmagic.so.1", "libmagic.so")),
)
_APPLIED = []


def _diag_enabled():
    return os.environ.get(DIAG_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def _diag(message):
    """Say what was looked for (only with H2O_DAI_MLFLOW_DIAG=1), where Serving logs show it."""
    LOG.debug(message)
    if _diag_enabled():
        sys.__stderr__.write("[h2o_dai_shims] %s\n" % message)


def _record(message):
    """Log a change once; return it, or None when this exact change was already reported."""
    if message in _APPLIED:
        return None
    _APPLIED.append(message)
    LOG.debug(message)
    if _diag_enabled():
        sys.__stderr__.write("[h2o_dai_shims] %s\n" % message)
    return message


def fix_importlib_resources():
    """Give Python 3.8's importlib.resources the 3.9+ ``files``/``as_file`` API."""
    import importlib.resources as stdlib_resources

    if hasattr(stdlib_resources, "files"):
        return None
    if importlib.util.find_spec("importlib_resources") is None:
        message = (
            "importlib.resources.files is missing and the importlib_resources backport is not "
            "installed (pip install importlib-resources==5.12.0)"
        )
        if message not in _APPLIED:
            LOG.warning(message)
        return _record(message)
    backport = importlib.import_module("importlib_resources")
    stdlib_resources.files = backport.files
    stdlib_resources.as_file = backport.as_file
    return _record("importlib.resources.files/as_file taken from importlib_resources")


class _StreamWithFileno(io.TextIOBase):
    """Wraps a stream that lacks a working ``fileno()``; everything else goes to the original."""

    def __init__(self, wrapped, fd):
        super().__init__()
        self._wrapped = wrapped
        self._fd = fd

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def writable(self):
        return True

    def write(self, text):
        return self._wrapped.write(text)

    def flush(self):
        flush = getattr(self._wrapped, "flush", None)
        if flush is not None:
            flush()

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


def _working_fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, io.UnsupportedOperation, ValueError, OSError):
        return None


def fix_stream_filenos():
    """Make ``sys.stdout.fileno()`` / ``sys.stderr.fileno()`` work when a host wrapped them."""
    changed = []
    for name, fallback in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None or _working_fileno(stream) is not None:
            continue
        original = getattr(sys, "__%s__" % name, None)
        fd = _working_fileno(original) if original is not None else None
        if fd is None:
            fd = fallback if _fd_open(fallback) else os.open(os.devnull, os.O_WRONLY)
        setattr(sys, name, _StreamWithFileno(stream, fd))
        changed.append("sys.%s (%s) now reports fileno %d" % (name, type(stream).__name__, fd))
    return _record("; ".join(changed)) if changed else None


def _fd_open(fd):
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def fix_psutil_limits():
    """Add ``RLIM_INFINITY`` / ``RLIMIT_*`` to psutil from ``resource`` where psutil lacks them."""
    if importlib.util.find_spec("psutil") is None:
        return None
    psutil = importlib.import_module("psutil")
    added = []
    for name in _PSUTIL_LIMITS:
        if hasattr(resource, name) and not hasattr(psutil, name):
            setattr(psutil, name, getattr(resource, name))
            added.append(name)
    return _record("psutil gained %s from resource" % ", ".join(added)) if added else None


def _foreign_spark_entry(entry):
    lowered = entry.replace("\\", "/").lower()
    if "/databricks/spark" in lowered or "/databricks/python" in lowered:
        return True
    own = "python%d.%d" % sys.version_info[:2]
    return "pyspark" in lowered and "/python3." in lowered and own not in lowered


def fix_spark_leakage():
    """Drop Databricks Spark paths from sys.path and blank the variables that point at them."""
    dropped = [entry for entry in sys.path if entry and _foreign_spark_entry(entry)]
    if dropped:
        sys.path[:] = [entry for entry in sys.path if entry not in dropped]
    blanked = [name for name in _SPARK_VARIABLES if os.environ.get(name)]
    for name in blanked:
        os.environ[name] = ""
    if not dropped and not blanked:
        return None
    return _record("dropped sys.path entries %s; blanked %s" % (dropped, blanked))


def ensure_writable_workdir():
    """Move to a private temporary folder when the working directory is not writable."""
    cwd = os.getcwd()
    try:
        with tempfile.TemporaryFile(dir=cwd):
            return None
    except OSError as exc:
        LOG.debug("working directory %s is not writable: %s", cwd, exc)
    target = tempfile.mkdtemp(prefix="h2o-dai-scoring-")
    os.chdir(target)
    return _record("working directory %s is read-only; scoring runs in %s" % (cwd, target))


def _library_folders():
    """The active environment's lib/ folders: this interpreter's prefix and $CONDA_PREFIX."""
    folders = []
    for prefix in (sys.prefix, os.environ.get("CONDA_PREFIX")):
        folder = os.path.join(prefix, "lib") if prefix else None
        if folder and os.path.isdir(folder) and folder not in folders:
            folders.append(folder)
    return folders


def preload_native_libraries():
    """Load OpenBLAS, libgfortran and libmagic from the environment's lib/ (global symbols)."""
    folders = _library_folders()
    loaded = []
    for label, names in _NATIVE_LIBRARIES:
        found = [os.path.join(d, n) for d in folders for n in names]
        found = [path for path in found if os.path.isfile(path)]
        if not found:
            _diag("native %s: none of %s in %s" % (label, ", ".join(names), folders))
            continue
        try:
            ctypes.CDLL(found[0], mode=ctypes.RTLD_GLOBAL)
        except OSError as exc:
            _diag("native %s: %s could not be loaded: %s" % (label, found[0], exc))
            LOG.warning("could not preload %s from %s: %s", label, found[0], exc)
            continue
        _diag("native %s: loaded %s" % (label, found[0]))
        loaded.append(found[0])
    if not loaded:
        return None
    return _record("preloaded native libraries %s" % loaded)


FIXES = (
    fix_spark_leakage,
    fix_importlib_resources,
    fix_stream_filenos,
    fix_psutil_limits,
    ensure_writable_workdir,
    preload_native_libraries,
)


def apply():
    """Apply every fix (idempotent); return descriptions of what changed in this call."""
    return [change for change in (fix() for fix in FIXES) if change]


def applied():
    """Everything changed so far in this process."""
    return list(_APPLIED)
