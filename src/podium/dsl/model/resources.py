"""Endpoints, the external resources they locate, and catalogs."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from podium.dsl.model.auth import ReferenceableAuthenticationPolicy
from podium.dsl.model.base import OBJECT, STRING, Model, _string_or_object, _uri_or_expression


class EndpointConfig(Model):
    uri: Annotated[str, AfterValidator(_uri_or_expression)]
    authentication: ReferenceableAuthenticationPolicy | None = None


Endpoint = Annotated[
    Annotated[str, AfterValidator(_uri_or_expression), STRING] | Annotated[EndpointConfig, OBJECT],
    _string_or_object("a URI, a runtime expression, or an object with 'uri'"),
]


class ExternalResource(Model):
    name: str | None = None
    endpoint: Endpoint


class Catalog(Model):
    endpoint: Endpoint
