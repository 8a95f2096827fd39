"""Checks of shims/h2o_dai_shims.py, run by a bare Python 3.8 with only the standard library.

    python3.8 -I -S shims_checks.py SHIMS_DIR CHECK

Exits 0 and prints "ok" when the check holds; an AssertionError fails it.
"""

import io
import os
import sys


def check_stdlib_only(shims):
    stdlib = os.path.realpath(os.path.join(sys.base_prefix, "lib"))
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and "h2o_dai_shims" not in path and path != os.path.abspath(__file__):
            assert os.path.realpath(path).startswith(stdlib), path


def check_idempotent(shims):
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    shims.apply()
    assert shims.apply() == []


def check_missing_backport_is_reported(shims):
    message = shims.fix_importlib_resources()
    assert "pip install importlib-resources==5.12.0" in message
    import importlib.resources

    assert not hasattr(importlib.resources, "files")


class StreamToLogger:
    def __init__(self):
        self.buffer = io.StringIO()

    def write(self, text):
        return self.buffer.write(text)

    def flush(self):
        return None


def check_stream_fileno(shims):
    logger = StreamToLogger()
    sys.stdout = logger
    message = shims.fix_stream_filenos()
    assert "sys.stdout (StreamToLogger) now reports fileno 1" in message, message
    assert sys.stdout.fileno() == 1
    print("through the wrapper")
    assert logger.buffer.getvalue() == "through the wrapper\n"
    assert shims.fix_stream_filenos() is None
    sys.stdout = sys.__stdout__


def check_spark_leakage(shims):
    leaked = [
        "/databricks/spark/python",
        "/local_disk0/.ephemeral_nfs/envs/pythonEnv-x/lib/python3.12/site-packages/pyspark",
    ]
    sys.path.extend(leaked)
    os.environ["SPARK_HOME"] = "/databricks/spark"
    os.environ["PYTHONPATH"] = "/databricks/spark/python"
    message = shims.fix_spark_leakage()
    assert all(entry not in sys.path for entry in leaked)
    assert os.environ["SPARK_HOME"] == "" and os.environ["PYTHONPATH"] == ""
    assert "SPARK_HOME" in message
    assert shims.fix_spark_leakage() is None


def check_read_only_workdir(shims):
    os.chdir("/proc")
    message = shims.ensure_writable_workdir()
    assert "read-only" in message
    assert os.getcwd() != "/proc"
    os.makedirs("tmp")


def check_psutil_absent(shims):
    assert shims.fix_psutil_limits() is None


def main():
    shims_dir, check = sys.argv[1], sys.argv[2]
    sys.path.insert(0, shims_dir)
    import h2o_dai_shims

    globals()["check_" + check](h2o_dai_shims)
    sys.__stdout__.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
