"""A local stand-in for the subset of the Databricks REST API this package calls, on 127.0.0.1,
for the real databricks-sdk to talk to: serving endpoints (get, create, update-config, query,
build and server logs) with their state machine, jobs create, Unity Catalog model versions
(get) and models (update), workspace-registry model versions (get). Every request is recorded
(method, path, headers, body) so tests can assert what was sent.

The endpoint state machine: a create or config update puts the endpoint IN_PROGRESS with the
new config pending; each later GET counts down ``polls_to_ready`` and then either makes the
pending config live (NOT_UPDATING, READY) or, if the test asked for a failure, ends in
UPDATE_FAILED with the old config kept. An update while one is in flight is refused (409), as
Databricks does.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]
    body: str


@dataclass
class Endpoint:
    name: str
    config: Optional[Dict[str, Any]] = None
    pending: Optional[Dict[str, Any]] = None
    config_update: str = "NOT_UPDATING"
    ready: str = "NOT_READY"
    polls_left: int = 0
    fail: bool = False

    def as_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {
            "name": self.name,
            "state": {"config_update": self.config_update, "ready": self.ready},
        }
        if self.config is not None:
            body["config"] = self.config
        if self.pending is not None:
            body["pending_config"] = self.pending
        return body


@dataclass
class FakeWorkspace:
    """What the stand-in knows and what the test scripts."""

    token: str
    polls_to_ready: int = 2
    fail_next_update: bool = False
    endpoints: Dict[str, Endpoint] = field(default_factory=dict)
    model_versions: Dict[Tuple[str, str], str] = field(default_factory=dict)  # -> status
    build_logs: str = (
        "Step 7/9 : RUN pip install -r requirements.txt\nERROR: No matching distribution"
    )
    requests: List[Recorded] = field(default_factory=list)
    next_job_id: int = 1001
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, method: str, pattern: str) -> List[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]


def _error(status: int, code: str, message: str) -> Tuple[int, Dict[str, Any]]:
    return status, {"error_code": code, "message": message}


def _entities(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [dict(e) for e in config.get("served_entities") or []]


class _Routes:
    def __init__(self, workspace: FakeWorkspace) -> None:
        self.ws = workspace
        self.table: List[Tuple[str, str, Callable[..., Tuple[int, Dict[str, Any]]]]] = [
            ("GET", r"/\.well-known/databricks-config", lambda body, query: (200, {})),
            ("GET", r"/api/2\.0/serving-endpoints/([^/]+)", self.get_endpoint),
            ("POST", r"/api/2\.0/serving-endpoints", self.create_endpoint),
            ("PUT", r"/api/2\.0/serving-endpoints/([^/]+)/config", self.update_config),
            ("POST", r"/serving-endpoints/([^/]+)/invocations", self.query),
            ("GET", r"/api/2\.0/serving-endpoints/([^/]+)/served-models/([^/]+)/build-logs",
             self.logs),
            ("GET", r"/api/2\.0/serving-endpoints/([^/]+)/served-models/([^/]+)/logs", self.logs),
            ("POST", r"/api/2\.[12]/jobs/create", self.create_job),
            ("GET", r"/api/2\.1/unity-catalog/models/([^/]+)/versions/([^/]+)", self.uc_version),
            ("PATCH", r"/api/2\.1/unity-catalog/models/([^/]+)", self.uc_update),
            ("GET", r"/api/2\.0/mlflow/model-versions/get", self.workspace_version),
        ]  # fmt: skip

    def dispatch(
        self, method: str, path: str, body: Dict[str, Any], query: Dict[str, str]
    ) -> Tuple[int, Dict[str, Any]]:
        for verb, pattern, handler in self.table:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler(body, query, *[unquote(g) for g in match.groups()])
        return _error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def get_endpoint(self, body: Any, query: Any, name: str) -> Tuple[int, Dict[str, Any]]:
        endpoint = self.ws.endpoints.get(name)
        if endpoint is None:
            return _error(
                404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist."
            )
        if endpoint.config_update == "IN_PROGRESS":
            if endpoint.polls_left > 0:
                endpoint.polls_left -= 1
            elif endpoint.fail:
                endpoint.config_update, endpoint.pending, endpoint.fail = (
                    "UPDATE_FAILED",
                    None,
                    False,
                )
            else:
                endpoint.config, endpoint.pending = endpoint.pending, None
                endpoint.config_update, endpoint.ready = "NOT_UPDATING", "READY"
        return 200, endpoint.as_json()

    def _start_update(self, endpoint: Endpoint, config: Dict[str, Any]) -> None:
        endpoint.pending = {"served_entities": _entities(config)}
        endpoint.config_update = "IN_PROGRESS"
        endpoint.polls_left = self.ws.polls_to_ready
        endpoint.fail, self.ws.fail_next_update = self.ws.fail_next_update, False

    def create_endpoint(self, body: Dict[str, Any], query: Any) -> Tuple[int, Dict[str, Any]]:
        name = body.get("name", "")
        if name in self.ws.endpoints:
            return _error(400, "RESOURCE_ALREADY_EXISTS", f"Endpoint '{name}' already exists.")
        endpoint = Endpoint(name)
        self._start_update(endpoint, body.get("config") or {})
        self.ws.endpoints[name] = endpoint
        return 200, endpoint.as_json()

    def update_config(
        self, body: Dict[str, Any], query: Any, name: str
    ) -> Tuple[int, Dict[str, Any]]:
        endpoint = self.ws.endpoints.get(name)
        if endpoint is None:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint '{name}' does not exist.")
        if endpoint.config_update == "IN_PROGRESS":
            return _error(
                409, "RESOURCE_CONFLICT", f"Endpoint '{name}' is currently being updated."
            )
        self._start_update(endpoint, body)
        return 200, endpoint.as_json()

    def query(self, body: Dict[str, Any], query: Any, name: str) -> Tuple[int, Dict[str, Any]]:
        endpoint = self.ws.endpoints.get(name)
        if endpoint is None or endpoint.ready != "READY":
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint '{name}' is not ready.")
        records = body.get("dataframe_records") or []
        return 200, {"predictions": [{"p": 0.5} for _ in records]}

    def logs(self, body: Any, query: Any, name: str, served: str) -> Tuple[int, Dict[str, Any]]:
        return 200, {"logs": f"[{served}] {self.ws.build_logs}"}

    def create_job(self, body: Dict[str, Any], query: Any) -> Tuple[int, Dict[str, Any]]:
        job_id, self.ws.next_job_id = self.ws.next_job_id, self.ws.next_job_id + 1
        return 200, {"job_id": job_id}

    def uc_version(
        self, body: Any, query: Any, name: str, version: str
    ) -> Tuple[int, Dict[str, Any]]:
        status = self.ws.model_versions.get((name, version))
        if status is None:
            return _error(
                404, "RESOURCE_DOES_NOT_EXIST", f"Model version {name}/{version} does not exist."
            )
        return 200, {"model_name": name, "version": int(version), "status": status}

    def uc_update(self, body: Dict[str, Any], query: Any, name: str) -> Tuple[int, Dict[str, Any]]:
        return 200, {"full_name": name, **body}

    def workspace_version(self, body: Any, query: Dict[str, str]) -> Tuple[int, Dict[str, Any]]:
        key = (query.get("name", ""), query.get("version", ""))
        status = self.ws.model_versions.get(key)
        if status is None:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Model version {key} does not exist.")
        return 200, {"model_version": {"name": key[0], "version": key[1], "status": status}}


class FakeDatabricks:
    """The stand-in server; ``host`` for the SDK, ``workspace`` for the test."""

    def __init__(self, workspace: FakeWorkspace) -> None:
        self.workspace = workspace
        routes = _Routes(workspace)

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with workspace.lock:
                    workspace.requests.append(
                        Recorded(self.command, url.path, dict(self.headers.items()), raw)
                    )
                    if self.headers.get("Authorization") != f"Bearer {workspace.token}" and not (
                        url.path.startswith("/.well-known/")
                    ):
                        status, answer = _error(401, "UNAUTHENTICATED", "Invalid access token.")
                    else:
                        status, answer = routes.dispatch(
                            self.command, url.path, json.loads(raw) if raw else {}, query
                        )
                payload = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeDatabricks:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
