"""Serve a local MLflow tracking store over loopback HTTP, for one call and one client.

Run by file path with an MLflow that can open the store (the caller's own, or a newer one an
entry point found), so it imports nothing of this package and stays valid Python 3.8::

    python store_server.py --fd N --ready FILE [--backend-uri URI] [--artifact-root URI]
                           [--cwd DIR]

* The listening socket on 127.0.0.1 is made by the launcher and handed over as descriptor N:
  no race for the port, and clients may connect before this server is up (they wait in the
  backlog until it accepts).
* Every request must carry ``Authorization: Bearer <token>``, the token coming from the
  ``DAI_MLFLOW_BRIDGE_TOKEN`` variable (removed from the environment before MLflow loads, and
  compared in constant time); anything else gets 401 before MLflow sees it. ``/health`` too.
* Without ``--backend-uri`` the store is the one this MLflow would use by default in ``--cwd``.
  Artifacts are not proxied: clients write to the run's own artifact location, as with
  ``mlflow server --no-serve-artifacts``; new experiments get theirs under ``--artifact-root``
  (default: the file store itself, else ``--cwd``/mlruns).
* The store is opened at start-up (a store this MLflow cannot open ends the server at once).
  Once MLflow's app is loaded, one JSON line goes to the ready file: the store URI, the MLflow
  version and this process's id. The launcher stops the server with SIGTERM.
"""

import argparse
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import urlparse

TOKEN_VARIABLE = "DAI_MLFLOW_BRIDGE_TOKEN"
# The variables `mlflow server` sets for its app; the same names in MLflow 1.x to 3.x.
BACKEND_STORE = "_MLFLOW_SERVER_FILE_STORE"
REGISTRY_STORE = "_MLFLOW_SERVER_REGISTRY_STORE"
ARTIFACT_ROOT = "_MLFLOW_SERVER_ARTIFACT_ROOT"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


def artifact_root(uri: str, cwd: Path) -> str:
    """Where the store's own MLflow puts artifacts: a file store itself, else ``cwd/mlruns``."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return (cwd / (parsed.path if parsed.scheme else uri)).resolve().as_uri()
    return (cwd / "mlruns").resolve().as_uri()


def guarded(app: WsgiApp, token: str) -> WsgiApp:
    """``app`` behind a bearer-token check."""
    expected = ("Bearer " + token).encode()

    def check(environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        supplied = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if not hmac.compare_digest(supplied, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"This loopback MLflow server serves only the call that started it.\n"]
        return app(environ, start_response)

    return check


def _default_uri(cwd: Path) -> str:
    os.chdir(cwd)
    import mlflow  # noqa: PLC0415  # whichever MLflow runs this script

    return str(mlflow.get_tracking_uri())


def _forget_own_folder() -> None:
    """Run as a script, this file's folder comes first on sys.path, and its sibling modules
    (e.g. model/packaging.py) would shadow the environment's packages of the same name."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="store_server")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--backend-uri", default="")
    parser.add_argument("--artifact-root", default="")
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    _forget_own_folder()
    token = os.environ.pop(TOKEN_VARIABLE, "")
    if len(token) < 32:
        sys.stderr.write(f"store_server: {TOKEN_VARIABLE} is missing or too short\n")
        return 2
    uri = args.backend_uri or _default_uri(args.cwd)
    os.environ[BACKEND_STORE] = uri
    os.environ[REGISTRY_STORE] = uri
    os.environ[ARTIFACT_ROOT] = args.artifact_root or artifact_root(uri, args.cwd)
    os.chdir(args.cwd)

    import mlflow  # noqa: PLC0415

    # Open the store now, so that a store this MLflow cannot open fails here, at start-up.
    mlflow.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    from mlflow.server import app  # noqa: PLC0415
    from werkzeug.serving import make_server  # noqa: PLC0415  # Flask's own server library

    server = make_server("127.0.0.1", 0, guarded(app, token), threaded=True, fd=args.fd)
    record = {"uri": uri, "mlflow": mlflow.__version__, "pid": os.getpid()}
    ready = Path(args.ready)
    partial = ready.with_name(ready.name + ".tmp")
    partial.write_text(json.dumps(record) + "\n", encoding="utf-8")
    partial.replace(ready)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
