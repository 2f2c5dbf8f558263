"""Authentication policies: basic, bearer, digest, OAuth2 and OpenID Connect."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from podium.dsl.model.base import Model, OpenModel, _one_of, _uri


class BasicAuth(Model):
    username: str | None = None
    password: str | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> BasicAuth:
        if self.use is not None:
            if self.username is not None or self.password is not None:
                raise ValueError("set either 'use' or 'username' and 'password'")
        elif self.username is None or self.password is None:
            raise ValueError("'username' and 'password' are required (or 'use' a secret)")
        return self


class BearerAuth(Model):
    token: str | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> BearerAuth:
        _one_of(self, ("token", "use"), "bearer authentication")
        return self


class OAuth2Client(Model):
    id: str | None = None
    secret: str | None = None
    assertion: str | None = None
    authentication: (
        Literal["client_secret_basic", "client_secret_post", "client_secret_jwt",
                "private_key_jwt", "none"]
        | None
    ) = None


class OAuth2Request(OpenModel):
    encoding: Literal["application/x-www-form-urlencoded", "application/json"] | None = None


class OAuth2Token(Model):
    token: str
    type: str


class OAuth2Endpoints(OpenModel):
    token: str | None = None
    revocation: str | None = None
    introspection: str | None = None


class OAuth2Auth(Model):
    authority: str | None = None
    grant: (
        Literal["authorization_code", "client_credentials", "password", "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange"]
        | None
    ) = None
    client: OAuth2Client | None = None
    request: OAuth2Request | None = None
    issuers: list[str] | None = None
    scopes: list[str] | None = None
    audiences: list[str] | None = None
    username: str | None = None
    password: str | None = None
    subject: OAuth2Token | None = None
    actor: OAuth2Token | None = None
    endpoints: OAuth2Endpoints | None = None
    use: Annotated[str, Field(min_length=1)] | None = None

    @field_validator("authority")
    @classmethod
    def _authority(cls, value: str | None) -> str | None:
        # The schema's `uriTemplate`: unlike endpoints, no runtime expression.
        return None if value is None else _uri(value)

    @model_validator(mode="after")
    def _shape(self) -> OAuth2Auth:
        if self.use is not None and any(
            getattr(self, f) is not None for f in type(self).model_fields if f != "use"
        ):
            raise ValueError("set either 'use' (a secret) or the OAuth2 properties")
        return self


class OidcAuth(OAuth2Auth):
    @model_validator(mode="after")
    def _no_endpoints(self) -> OidcAuth:
        if self.endpoints is not None:
            raise ValueError("'endpoints' is not a property of oidc (it is discovered)")
        return self


class AuthenticationPolicy(OpenModel):
    """An entry of ``use.authentications``: the schema closes this object only
    where it is referenceable (an endpoint's ``authentication``)."""

    basic: BasicAuth | None = None
    bearer: BearerAuth | None = None
    digest: BasicAuth | None = None
    oauth2: OAuth2Auth | None = None
    oidc: OidcAuth | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthenticationPolicy:
        _one_of(self, ("basic", "bearer", "digest", "oauth2", "oidc"), "an authentication policy")
        return self


class ReferenceableAuthenticationPolicy(AuthenticationPolicy):
    model_config = ConfigDict(extra="forbid")

    use: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ReferenceableAuthenticationPolicy:
        _one_of(self, ("use", "basic", "bearer", "digest", "oauth2", "oidc"),
                "an authentication")
        return self
