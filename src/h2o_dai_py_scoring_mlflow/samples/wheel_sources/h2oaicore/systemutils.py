"""Process set-up the real runtime performs before scoring, with its real sensitivities.

* It asks ``sys.stdout`` / ``sys.stderr`` for their file descriptors (hosted runtimes that wrap
  the streams in objects without a working ``fileno()`` break here).
* It reads ``psutil.RLIM_INFINITY`` and ``psutil.RLIMIT_*`` (some psutil builds lack them).
* It writes its logs under ``./tmp`` in the current working directory.
* It loads OpenBLAS by soname (``libopenblas.so.0``), as DAI's compiled code does: found only
  where the dynamic loader looks, not in a conda-style environment's ``lib/`` folder.
"""

import ctypes
import logging
import os
import resource
import sys

import psutil

_FORMAT = (
    "%(asctime)s C: {cpu:>3.0f}%% M:{mem:.1f}GB  NODE:SERVER {pid:>8}  "
    "%(levelname)-6s | %(message)s"
)


def _check_streams():
    """Real h2oaicore inspects the streams' descriptors to decide on colour and progress output."""
    return os.isatty(sys.stdout.fileno()), os.isatty(sys.stderr.fileno())


def _resource_limits():
    limits = {}
    for name in ("RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_AS"):
        soft, hard = resource.getrlimit(getattr(psutil, name))
        limits[name] = (
            "unlimited" if soft == psutil.RLIM_INFINITY else soft,
            "unlimited" if hard == psutil.RLIM_INFINITY else hard,
        )
    return limits


def _load_openblas():
    try:
        blas = ctypes.CDLL("libopenblas.so.0")
    except OSError as exc:
        raise ImportError("h2oaicore needs OpenBLAS (libopenblas.so.0): %s" % exc) from exc
    return blas.openblas_get_num_threads()


def init_runtime(experiment_key):
    """Create ``./tmp`` logs and return the experiment logger."""
    threads = _load_openblas()
    ttys = _check_streams()
    limits = _resource_limits()
    tmp = os.path.join(os.getcwd(), "tmp")
    os.makedirs(tmp, exist_ok=True)
    memory = psutil.virtual_memory()
    fmt = _FORMAT.format(
        cpu=psutil.cpu_percent(interval=None), mem=memory.total / 2**30, pid=os.getpid()
    )
    logger = logging.getLogger("h2oai_experiment_%s" % experiment_key)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for name in ("h2oai_server.log", "h2oai_experiment_%s.log" % experiment_key):
        handler = logging.FileHandler(os.path.join(tmp, name))
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
    logger.info("Scoring runtime started (stdout tty=%s, stderr tty=%s)", *ttys)
    logger.info("Resource limits: %s", limits)
    logger.info("OpenBLAS threads: %s", threads)
    return logger


def close_runtime(logger):
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)
