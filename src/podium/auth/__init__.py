"""Authentication policies (dsl-reference "Authentication"): resolve a policy to
what a request needs, an ``Authorization`` header or a challenge-response flow,
and the ``$authorization`` descriptor."""

from __future__ import annotations

from podium.auth import basic, bearer, digest, oauth2, oidc
from podium.auth._policy import Authorization, resolve_policy
from podium.dsl import model as m
from podium.engine.state import TaskRun

__all__ = ["Authorization", "authorize", "resolve_policy"]


async def authorize(
    policy: m.ReferenceableAuthenticationPolicy | m.AuthenticationPolicy, run: TaskRun
) -> Authorization:
    """The authorization a policy grants, its expressions evaluated (secrets read,
    tokens obtained or reused)."""
    resolved = resolve_policy(policy, run)
    if resolved.basic is not None:
        return await basic.authorize(resolved.basic, run)
    if resolved.bearer is not None:
        return await bearer.authorize(resolved.bearer, run)
    if resolved.digest is not None:
        return await digest.authorize(resolved.digest, run)
    if resolved.oauth2 is not None:
        return await oauth2.authorize(resolved.oauth2, run)
    assert resolved.oidc is not None  # the model holds exactly one scheme
    return await oidc.authorize(resolved.oidc, run)
