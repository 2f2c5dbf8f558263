"""Certificate authentication (dsl-reference "Certificate Authentication").

DSL 1.0.3 names the scheme but defines nothing for it: the section is empty
and neither the schema's ``authenticationPolicy`` nor its referenceable form
has a ``certificate`` property, so a document cannot ask for it (the loader
refuses ``certificate:`` like any unknown policy). Mutual TLS is the transport's
business instead: the operator gives the runtime an ``httpx.AsyncClient``
configured with its client certificate (``Runtime(http_client=...)``), and
``client_with_certificate`` builds one.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx


def client_with_certificate(
    certificate: str | Path,
    key: str | Path | None = None,
    password: str | None = None,
    *,
    verify: str | Path | bool = True,
    timeout: httpx.Timeout | float = 60.0,
) -> httpx.AsyncClient:
    """An HTTP client that presents a client certificate (PEM files) to every
    server asking for one."""
    context = (ssl.create_default_context(cafile=str(verify))
               if isinstance(verify, str | Path) else ssl.create_default_context())
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(certificate), None if key is None else str(key), password)
    return httpx.AsyncClient(verify=context, timeout=timeout)
