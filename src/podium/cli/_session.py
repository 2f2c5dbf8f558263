"""Opening the store for one command, and the one place where store errors
become a message and exit 2 (never a traceback, never a password)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import typer

from podium import Runtime
from podium.cli._output import EXIT_INTERRUPTED, note, usage_error
from podium.config import Settings
from podium.guards import tune_garbage_collector
from podium.store import Store, StoreError, open_store

T = TypeVar("T")


@contextlib.asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[Store]:
    store = open_store(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def opened_runtime(url: str, **options: Any) -> AsyncIterator[Runtime]:
    if "settings" not in options:
        try:
            options["settings"] = Settings.from_env()
        except ValueError as exc:  # names the variable
            usage_error(str(exc))
    async with opened_store(url) as store, Runtime(store=store, **options) as runtime:
        tune_garbage_collector()  # once start-up has loaded what stays (podium.guards)
        yield runtime


def run_async(main: Coroutine[Any, Any, T], url: str) -> T:
    """Run a command's coroutine; a ``StoreError`` is a one-line message and exit 2."""
    try:
        return asyncio.run(main)
    except StoreError as exc:
        # One line: drivers spread theirs over several ("Is the server running ...?").
        usage_error(" ".join(scrub(str(exc), url).split()))
    except KeyboardInterrupt:
        note("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def scrub(message: str, url: str) -> str:
    """``message`` without the password of ``url``, wherever a driver quoted it
    (in the user part or as ``?password=``)."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password or ""]
        secrets += [value for key, value in parse_qsl(parts.query) if key == "password"]
    except ValueError:
        return message
    for secret in secrets:
        for spelling in {secret, unquote(secret)}:
            if spelling:
                message = message.replace(spelling, "***")
    return message
