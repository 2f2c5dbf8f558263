"""What every authentication scheme shares: the result, and reading a policy's
properties (inline, with expressions, or from a secret)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from podium.dsl import model as m
from podium.engine.errors import AUTHENTICATION, WorkflowError
from podium.engine.state import TaskRun


@dataclass(frozen=True)
class Authorization:
    """What a policy grants: the ``Authorization`` header's scheme and parameter
    (dsl.md "Authorization Descriptor"), or, for challenge-response schemes such
    as digest, an ``httpx.Auth`` flow that computes the header while sending
    (``flow``; there is then no ``header``)."""

    scheme: str
    parameter: str
    flow: httpx.Auth | None = None

    @property
    def header(self) -> str:
        """The ``Authorization`` header; a flow has none to give ahead of sending."""
        if self.flow is not None:
            raise WorkflowError.configuration(
                f"{self.scheme} authentication answers a server's challenge: it is "
                "supported by HTTP calls only"
            )
        return f"{self.scheme} {self.parameter}"

    def descriptor(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "parameter": self.parameter}


def resolve_policy(
    policy: m.ReferenceableAuthenticationPolicy | m.AuthenticationPolicy, run: TaskRun
) -> m.AuthenticationPolicy:
    if isinstance(policy, m.ReferenceableAuthenticationPolicy) and policy.use is not None:
        use = run.instance.definition.model.use
        return ((use and use.authentications) or {})[policy.use]  # checked at load
    return policy


def failure(detail: str, run: TaskRun) -> WorkflowError:
    return WorkflowError(AUTHENTICATION, detail=detail, instance=run.reference)


async def properties(
    scheme: m.BasicAuth | m.BearerAuth | m.OAuth2Auth, run: TaskRun
) -> dict[str, Any]:
    """A scheme's properties: its secret's object when it ``use``s one, else its own
    with their runtime expressions evaluated."""
    if scheme.use is None:
        fields = scheme.model_dump(exclude_none=True, by_alias=True)
        evaluated = await run.template(fields)
        return evaluated if isinstance(evaluated, dict) else fields
    value = run.instance.secrets().get(scheme.use)
    if not isinstance(value, dict):
        raise failure(
            f"secret '{scheme.use}' must be an object holding the policy's properties", run
        )
    return value
