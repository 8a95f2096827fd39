"""Roll a Model Serving endpoint to a model version and prove it answers.

Create the endpoint when it does not exist, else replace its served entity with the new version
(an update already in flight is waited out first: Databricks refuses a second one). Then look at
it every ``poll_s`` seconds until its configuration is no longer updating, it is READY and it
serves the new version; ``UPDATE_FAILED`` fetches the served entity's build and server logs into
the error, and ``timeout_s`` ends the wait with the last state seen. The license reaches the
endpoint only as a secret reference (``{{secrets/scope/key}}``) in its environment variables.

The wait is our own loop rather than the SDK's ``*_and_wait`` helpers, whose poll interval is
fixed inside the SDK: ``DEPLOY_WAIT_POLL_S`` and ``DEPLOY_WAIT_TIMEOUT_S`` decide it here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..errors import DaiMlflowError

LICENSE_VARIABLE = "DRIVERLESS_AI_LICENSE_KEY"
_LOG_TAIL = 60


class EndpointError(DaiMlflowError):
    """A serving endpoint failed to update, did not get ready in time, or answered wrongly."""


@dataclass(frozen=True)
class EndpointPlan:
    """What the endpoint should serve."""

    endpoint: str
    model_name: str
    version: str
    served_name: str
    license_secret: str  # scope/key
    workload_size: str = "Small"
    scale_to_zero: bool = True

    def environment_vars(self) -> Dict[str, str]:
        return {LICENSE_VARIABLE: "{{secrets/" + self.license_secret + "}}"}


@dataclass(frozen=True)
class RollResult:
    endpoint: str
    created: bool
    version: str
    seconds: float


def _served_entity(plan: EndpointPlan) -> Any:
    from databricks.sdk.service.serving import ServedEntityInput  # noqa: PLC0415

    return ServedEntityInput(
        name=plan.served_name,
        entity_name=plan.model_name,
        entity_version=plan.version,
        workload_size=plan.workload_size,
        scale_to_zero_enabled=plan.scale_to_zero,
        environment_vars=plan.environment_vars(),
    )


def _find(client: Any, name: str) -> Optional[Any]:
    from databricks.sdk.errors import NotFound, ResourceDoesNotExist  # noqa: PLC0415

    try:
        return client.serving_endpoints.get(name)
    except (NotFound, ResourceDoesNotExist):
        return None


def _value(enum_value: Any) -> str:
    return str(getattr(enum_value, "value", enum_value) or "")


def _state(endpoint: Any) -> str:
    state = endpoint.state
    if state is None:
        return "no state yet"
    return f"config_update={_value(state.config_update)}, ready={_value(state.ready)}"


def _serves(endpoint: Any, plan: EndpointPlan) -> bool:
    config = endpoint.config
    entities = (config.served_entities or []) if config is not None else []
    return any(
        e.entity_name == plan.model_name and str(e.entity_version) == plan.version for e in entities
    )


def _logs(client: Any, plan: EndpointPlan) -> str:
    """The served entity's build logs and server logs (their tails), as far as they exist."""
    from databricks.sdk.errors.base import DatabricksError  # noqa: PLC0415

    parts = []
    for label, fetch in (
        ("build logs", client.serving_endpoints.build_logs),
        ("server logs", client.serving_endpoints.logs),
    ):
        try:
            text = fetch(plan.endpoint, plan.served_name).logs or ""
        except DatabricksError as exc:
            text = f"(not available: {exc})"
        lines = text.strip().splitlines()[-_LOG_TAIL:]
        parts.append(f"--- {label} of {plan.served_name} ---\n" + "\n".join(lines))
    return "\n".join(parts)


def _wait(
    client: Any,
    plan: EndpointPlan,
    *,
    timeout_s: float,
    poll_s: float,
    progress: Callable[[str], None],
    until: Callable[[Any], bool],
    what: str,
) -> Any:
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        endpoint = client.serving_endpoints.get(plan.endpoint)
        state = _state(endpoint)
        if state != last:
            progress(f"endpoint {plan.endpoint}: {state}")
            last = state
        if _value(endpoint.state.config_update if endpoint.state else "") == "UPDATE_FAILED":
            raise EndpointError(
                f"The serving endpoint {plan.endpoint} failed to update to {plan.model_name} "
                f"version {plan.version}.\n{_logs(client, plan)}",
                tip="The logs above name the cause; `dai-mlflow validate --model-uri ...` "
                "finds most of them on your machine in minutes (deploy --validate runs it).",
            )
        if until(endpoint):
            return endpoint
        if time.monotonic() >= deadline:
            raise EndpointError(
                f"The serving endpoint {plan.endpoint} was not {what} after {timeout_s:.0f} s "
                f"(last state: {state}).",
                tip="It may still get there: look at it in the Serving UI, or wait longer "
                "with DEPLOY_WAIT_TIMEOUT_S.",
            )
        time.sleep(poll_s)


def _settled(endpoint: Any) -> bool:
    return endpoint.state is not None and _value(endpoint.state.config_update) != "IN_PROGRESS"


def roll_endpoint(
    client: Any,
    plan: EndpointPlan,
    *,
    timeout_s: float,
    poll_s: float,
    progress: Callable[[str], None],
) -> RollResult:
    """Create or update ``plan.endpoint`` to serve the plan's version; wait until it does."""
    from databricks.sdk.service.serving import EndpointCoreConfigInput  # noqa: PLC0415

    started = time.monotonic()
    existing = _find(client, plan.endpoint)
    if existing is None:
        progress(f"creating serving endpoint {plan.endpoint} for {plan.model_name} v{plan.version}")
        client.serving_endpoints.create(
            plan.endpoint,
            config=EndpointCoreConfigInput(
                name=plan.endpoint, served_entities=[_served_entity(plan)]
            ),
        )
    else:
        if not _settled(existing):
            progress(f"endpoint {plan.endpoint} is already updating; waiting for that first")
            _wait(client, plan, timeout_s=timeout_s, poll_s=poll_s, progress=progress,
                  until=_settled, what="done with its update in flight")  # fmt: skip
        progress(f"updating serving endpoint {plan.endpoint} to {plan.model_name} v{plan.version}")
        client.serving_endpoints.update_config(
            plan.endpoint, served_entities=[_served_entity(plan)]
        )

    def ready(endpoint: Any) -> bool:
        state = endpoint.state
        return (
            state is not None
            and _value(state.config_update) == "NOT_UPDATING"
            and _value(state.ready) == "READY"
            and _serves(endpoint, plan)
        )

    remaining = max(timeout_s - (time.monotonic() - started), poll_s)
    _wait(client, plan, timeout_s=remaining, poll_s=poll_s, progress=progress, until=ready,
          what="READY with the new version")  # fmt: skip
    return RollResult(plan.endpoint, existing is None, plan.version, time.monotonic() - started)


def smoke_test(client: Any, endpoint: str, records: Sequence[Dict[str, Any]]) -> List[Any]:
    """Query the endpoint with ``records``; its predictions, one per record, or an error."""
    from databricks.sdk.errors.base import DatabricksError  # noqa: PLC0415

    try:
        answer = client.serving_endpoints.query(endpoint, dataframe_records=list(records))
    except DatabricksError as exc:
        raise EndpointError(
            f"The serving endpoint {endpoint} is READY but refused the model's input example: "
            f"{exc}",
            tip="Check the license secret and the endpoint's server logs in the Serving UI.",
        ) from None
    predictions = list(answer.predictions or [])
    if len(predictions) != len(records):
        raise EndpointError(
            f"The serving endpoint {endpoint} answered {len(predictions)} predictions for "
            f"{len(records)} rows.",
            tip="Look at the endpoint's server logs in the Serving UI.",
        )
    return predictions
