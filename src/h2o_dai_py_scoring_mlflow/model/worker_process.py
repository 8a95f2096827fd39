"""The scoring worker: a long-lived Python 3.8 process that loads a logged model once and
predicts the frames it is sent. The inside half of :mod:`.worker`.

Run by file path in the model's own environment (built from its files: Python 3.8, MLflow 2.17,
the export's wheels, pyarrow), so it imports nothing of this package and stays valid Python 3.8::

    python worker_process.py --model MODEL_DIR

Protocol, over stdin and the original stdout (anything the model prints goes to stderr): each
message is two big-endian 32-bit lengths, a JSON header of the first length, then a payload of
the second. A request's header is ``{"params": {...}}`` and its payload an Arrow IPC stream of
the frame; an answer's header is ``{"ok": true}`` with the predictions as an Arrow IPC stream,
or ``{"ok": false, "error": "...", "type": "..."}`` with an empty payload. The first answer,
sent before any request, says whether the model loaded. The worker ends when its input closes,
and with the process that started it (Linux parent-death signal).
"""

import argparse
import ctypes
import json
import os
import signal
import struct
import sys
from pathlib import Path
from typing import Any, BinaryIO, Dict, Optional, Tuple

_LENGTHS = struct.Struct(">II")


def read_message(stream: BinaryIO) -> Optional[Tuple[Dict[str, Any], bytes]]:
    """One message, or None when the stream has ended."""
    head = stream.read(_LENGTHS.size)
    if len(head) < _LENGTHS.size:
        return None
    header_size, payload_size = _LENGTHS.unpack(head)
    header = json.loads(stream.read(header_size).decode("utf-8"))
    payload = stream.read(payload_size)
    return header, payload


def write_message(stream: BinaryIO, header: Dict[str, Any], payload: bytes = b"") -> None:
    encoded = json.dumps(header).encode("utf-8")
    stream.write(_LENGTHS.pack(len(encoded), len(payload)) + encoded + payload)
    stream.flush()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def _failure(exc: BaseException) -> Dict[str, Any]:
    message = str(exc).strip() or type(exc).__name__
    return {"ok": False, "error": message, "type": type(exc).__name__}


def _predictor(model: Any) -> Any:
    """What answers a frame: the model's own wrapper, called directly. The caller has already
    checked the frame against the signature with its own MLflow (or, for Spark, sends the
    columns as they are), and the wrapper coerces every column per the signature itself, so
    MLflow 2.17's second schema check would only cost time - and refuse an int64 column for a
    double input, which Arrow gives for whole numbers. Models without a Python wrapper go
    through MLflow's ``predict``."""
    unwrap = getattr(model, "unwrap_python_model", None)
    if unwrap is None:
        return model.predict
    python_model = unwrap()

    def predict(frame: Any, params: Optional[Dict[str, Any]] = None) -> Any:
        return python_model.predict(None, frame, params=params)

    return predict


def _serve(model: Any, requests: BinaryIO, answers: BinaryIO) -> int:
    import pyarrow as pa  # noqa: PLC0415  # MLflow 2.17's own dependency

    predict = _predictor(model)
    while True:
        message = read_message(requests)
        if message is None:
            return 0
        header, payload = message
        try:
            frame = pa.ipc.open_stream(payload).read_all().to_pandas()
            result = predict(frame, params=header.get("params") or None)
            table = pa.Table.from_pandas(result, preserve_index=False)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            write_message(answers, {"ok": True}, sink.getvalue().to_pybytes())
        except Exception as exc:  # every failure goes back to the client
            write_message(answers, _failure(exc))


def _forget_own_folder() -> None:
    """Run as a script, this file's folder comes first on sys.path, and its sibling modules
    (e.g. model/packaging.py) would shadow the environment's packages of the same name."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]


def main() -> int:
    parser = argparse.ArgumentParser(prog="worker_process")
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    _forget_own_folder()
    _die_with_parent()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the model's and the scorer's prints go to stderr, not into the protocol
    requests = sys.stdin.buffer
    try:
        import mlflow.pyfunc  # noqa: PLC0415

        model = mlflow.pyfunc.load_model(args.model)
    except Exception as exc:  # reported to the client, which raises it
        write_message(answers, _failure(exc))
        return 1
    write_message(answers, {"ok": True, "ready": True})
    return _serve(model, requests, answers)


if __name__ == "__main__":
    sys.exit(main())
