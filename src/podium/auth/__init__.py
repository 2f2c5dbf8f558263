"""Authentication policies (dsl-reference "Authentication"): resolve a policy to
an HTTP ``Authorization`` header and the ``$authorization`` descriptor."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from podium.dsl import model as m
from podium.engine.errors import AUTHENTICATION, WorkflowError
from podium.engine.state import TaskRun


@dataclass(frozen=True)
class Authorization:
    """dsl.md "Authorization Descriptor"."""

    scheme: str
    parameter: str

    @property
    def header(self) -> str:
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


def _secret(name: str, run: TaskRun) -> dict[str, Any]:
    value = run.instance.secrets().get(name)
    if not isinstance(value, dict):
        raise WorkflowError(
            AUTHENTICATION,
            detail=f"secret '{name}' must be an object holding the policy's properties",
            instance=run.reference,
        )
    return value


async def authorize(
    policy: m.ReferenceableAuthenticationPolicy | m.AuthenticationPolicy, run: TaskRun
) -> Authorization:
    """The authorization a policy grants, its expressions evaluated."""
    resolved = resolve_policy(policy, run)
    if resolved.basic is not None:
        fields = (_secret(resolved.basic.use, run) if resolved.basic.use
                  else run.template(resolved.basic.model_dump(exclude_none=True)))
        token = f"{fields.get('username', '')}:{fields.get('password', '')}"
        return Authorization("Basic", base64.b64encode(token.encode()).decode())
    if resolved.bearer is not None:
        fields = (_secret(resolved.bearer.use, run) if resolved.bearer.use
                  else run.template(resolved.bearer.model_dump(exclude_none=True)))
        return Authorization("Bearer", str(fields.get("token", "")))
    kind = next(k for k in ("digest", "oauth2", "oidc") if getattr(resolved, k) is not None)
    raise WorkflowError.runtime(
        f"'{kind}' authentication is not supported yet by this Podium version", run.reference
    )
