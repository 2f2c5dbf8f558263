"""`call: asyncapi` (dsl-reference "AsyncAPI Call", "AsyncAPI Subscription",
"AsyncAPI Subscription Lifetime", "Subscription Iterator") over NATS, AMQP 0.9.1
and MQTT 5.

The document (AsyncAPI 2.6 ``channel`` or 3.0 ``operation``) names the server
and the channel address; ``message`` publishes, ``subscription`` consumes. The
operation's direction (2.6 ``publish``/``subscribe``, 3.0 ``action``) is not
enforced: the call does what ``message`` or ``subscription`` asks.

Publishing returns the message as sent: ``{payload, headers}`` with expressions
evaluated. Payloads other than strings are sent as JSON.

Subscribing returns the array of consumed messages, in order, each
``{payload, headers, correlationId?}`` (the payload JSON-decoded when it is
JSON, else text, else base64), or what ``foreach.output.as`` made of it:

- ``filter`` sees the message as ``.``; messages it refuses are acknowledged,
  dropped, and do not count.
- ``amount``: stop after that many messages.
- ``while`` is checked before waiting for each message, ``.`` being the last
  accepted message (null before the first); ``until`` after each accepted
  message (and its ``foreach``, so ``$context`` holds its export), ``.`` being
  that message. The message that satisfies ``until`` is part of the output.
- ``for``: a time window for waiting; when it closes, the call returns what it
  has consumed so far (not an error). A task ``timeout`` is the way to fail.
- ``foreach.do`` runs for each accepted message, the message being its input
  and ``$<item>``/``$<at>`` (default ``$item``/``$index``); ``then: end`` inside
  it ends the subscription and the enclosing scope.

Durability: with a journal, each accepted message is recorded before it is
acknowledged and before its ``foreach`` runs, and the ``for`` window's end is
a timer. A replay reads recorded messages back in order, then resumes
consuming live ones, so no acknowledged message is lost nor delivered twice to
``foreach``. Without a journal a message is acknowledged after its ``foreach``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from podium import egress
from podium.auth import authorize
from podium.calls._asyncapi_document import Destination, resolve
from podium.calls._asyncapi_wire import Connector, Deliveries, Delivery, Outbound
from podium.dsl import model as m
from podium.engine import runner
from podium.engine.errors import WorkflowError
from podium.engine.journal import COMPLETED, TIMER
from podium.engine.state import TaskRun
from podium.limits import MAX_PAYLOAD_BYTES
from podium.payloads import NotJSON, check_data, parse_json, too_large
from podium.resources import read_document

_CONNECTORS = {
    "amqp": ("_asyncapi_amqp", "AMQPConnector"),
    "mqtt": ("_asyncapi_mqtt", "MQTTConnector"),
    "mqtt5": ("_asyncapi_mqtt", "MQTTConnector"),
    "nats": ("_asyncapi_nats", "NATSConnector"),
}
_FOREACH = "with/subscription/foreach"


async def execute(task: m.CallAsyncAPI, run: TaskRun) -> Any:
    args = task.with_
    document, uri = await read_document(args.document, run)
    variables = await run.template(args.server.variables) if args.server and args.server.variables \
        else {}
    if not isinstance(variables, dict):
        raise WorkflowError.expression(
            f"'server.variables' must give an object, not {type(variables).__name__}",
            run.reference,
        )
    destination = resolve(
        document, uri, channel=args.channel, operation=args.operation,
        server=args.server.name if args.server else None,
        variables=variables,
        # dsl-reference: `protocol` is ignored when `server` is set.
        protocol=None if args.server else args.protocol,
        where=run.reference,
    )
    if args.authentication is not None:
        destination = await _authenticate(destination, args.authentication, run)
    await egress.check_host(destination.host, destination.port,
                            run.instance.services.settings, run.reference)
    connector = _connector(destination.protocol, run.reference)
    if args.message is not None:
        return await _publish(args.message, destination, connector, run)
    assert args.subscription is not None  # the model requires one of the two
    return await _subscribe(args.subscription, destination, connector, run)


def _connector(protocol: str, where: str) -> Connector:
    module_name, class_name = _CONNECTORS[protocol]
    try:
        module = importlib.import_module(f"podium.calls.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.startswith("podium"):
            raise
        raise WorkflowError.configuration(
            f"'call: asyncapi' over {protocol} needs the Python package '{exc.name}': "
            f"install podium[asyncapi]",
            where,
        ) from None
    return cast(Connector, getattr(module, class_name)())


async def _authenticate(destination: Destination, policy: m.ReferenceableAuthenticationPolicy,
                        run: TaskRun) -> Destination:
    authorization = await authorize(policy, run)
    run.authorization = authorization.descriptor()
    if authorization.scheme == "Basic":
        user, _, password = base64.b64decode(authorization.parameter).decode().partition(":")
        return replace(destination, username=user, password=password, token=None)
    return replace(destination, token=authorization.parameter)


# Publishing -------------------------------------------------------------------------------

async def _publish(message: m.AsyncAPIMessage, destination: Destination, connector: Connector,
                   run: TaskRun) -> Any:
    payload = await run.template(message.payload)
    headers = await run.template(message.headers) or {}
    if not isinstance(headers, dict):
        raise WorkflowError.expression(
            f"'message.headers' must give an object, not {type(headers).__name__}",
            run.reference,
        )
    headers = {str(k): v for k, v in headers.items() if v is not None}
    if payload is None:
        body, content_type = b"", None
    elif isinstance(payload, str):
        body, content_type = payload.encode(), "text/plain"
    else:
        body, content_type = json.dumps(payload).encode(), "application/json"
    sent = {"payload": payload, "headers": headers}
    correlation = _located(destination.correlation, sent)
    await connector.publish(destination, Outbound(
        body, headers, content_type, None if correlation is None else str(correlation)
    ))
    return sent


# Subscribing ------------------------------------------------------------------------------

async def _subscribe(subscription: m.AsyncAPISubscription, destination: Destination,
                     connector: Connector, run: TaskRun) -> list[Any]:
    consume = subscription.consume
    instance = run.instance
    evaluator, journal, where = instance.evaluator, instance.journal, run.reference
    deadline = await _deadline(consume, run)
    outputs: list[Any] = []
    last: Any = None
    async with contextlib.AsyncExitStack() as stack:
        deliveries: Deliveries | None = None
        while consume.amount is None or len(outputs) < consume.amount:
            if consume.while_ is not None and not await evaluator.condition(
                consume.while_, last, run.variables("task"), where
            ):
                break
            index = len(outputs)
            position = f"{run.position}#message[{index}]"
            recorded = journal.outcome(position) if journal.enabled else None
            pending: Delivery | None = None
            if recorded is not None:
                message = recorded.data["output"]
            else:
                if deliveries is None:
                    # Subscribed only when a live message is needed: a replay that
                    # finds all it needs in the journal never reaches the broker.
                    deliveries = await stack.enter_async_context(connector.subscribe(destination))
                    stack.push_async_callback(deliveries.aclose)
                delivery = await _next(deliveries, deadline, destination)
                if delivery is None:
                    break
                message = _inbound(delivery, destination)
                if subscription.filter is not None and not await evaluator.condition(
                    subscription.filter, message, run.variables("task"), where
                ):
                    await delivery.settle()
                    continue
                if journal.enabled:
                    await journal.record(position, COMPLETED, {
                        "task": where, "output": message, "directive": runner.CONTINUE,
                    })
                    await delivery.settle()
                else:
                    pending = delivery
            output, ended = await _iterate(subscription.foreach, message, index, run)
            if pending is not None:
                await pending.settle()
            outputs.append(output)
            last = message
            if ended:
                run.ended = True
                break
            if consume.until is not None and await evaluator.condition(
                consume.until, message, run.variables("task"), where
            ):
                break
    return outputs


async def _deadline(consume: m.AsyncAPIConsumption, run: TaskRun) -> float | None:
    """The event-loop time at which the ``for`` window closes; journaled as a
    timer, so a replay keeps the original window."""
    if consume.for_ is None:
        return None
    seconds = await runner.duration_seconds(consume.for_, run, run.instance, run.reference,
                                            "consume.for")
    journal = run.instance.journal
    if journal.enabled:
        position = f"{run.position}#for"
        due = journal.timer(position)
        if due is None:
            due = datetime.now(UTC) + timedelta(seconds=seconds)
            await journal.record(position, TIMER, {"task": run.reference,
                                                   "due": due.isoformat()})
        seconds = (due - datetime.now(UTC)).total_seconds()
    return asyncio.get_running_loop().time() + max(seconds, 0.0)


async def _next(deliveries: Deliveries, deadline: float | None,
                destination: Destination) -> Delivery | None:
    """The next delivery, or None once the ``for`` window has closed."""
    try:
        if deadline is None:
            return await anext(deliveries)
        window = asyncio.timeout_at(deadline)
        try:
            async with window:
                return await anext(deliveries)
        except TimeoutError:
            if window.expired():
                return None
            raise
    except StopAsyncIteration:
        raise WorkflowError.communication(
            f"{destination.protocol} broker {destination.host}:{destination.port} ended the "
            f"subscription to '{destination.address}'",
            instance=destination.where,
        ) from None


def _inbound(delivery: Delivery, destination: Destination) -> dict[str, Any]:
    """dsl-reference "AsyncAPI Inbound Message"."""
    what = (f"a message from {destination.protocol} broker {destination.host}:"
            f"{destination.port} on '{destination.address}'")
    message: dict[str, Any] = {
        "payload": _decode(delivery.body, what, destination.where),
        "headers": check_data(delivery.headers, f"the headers of {what}", destination.where),
    }
    correlation = delivery.correlation_id
    if correlation is None:
        found = _located(destination.correlation, message)
        correlation = None if found is None else str(found)
    if correlation is not None:
        message["correlationId"] = correlation
    return message


def _decode(body: bytes, what: str, where: str | None) -> Any:
    """JSON when the body is strict JSON (within the payload limits), else text,
    else base64."""
    if not body:
        return None
    if len(body) > MAX_PAYLOAD_BYTES:
        raise too_large(what, where)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode()
    try:
        return parse_json(text, what, where)
    except NotJSON:
        return text


def _located(location: str | None, message: dict[str, Any]) -> Any:
    """The value at an AsyncAPI runtime expression such as ``$message.header#/id``."""
    if location is None:
        return None
    source, _, pointer = location.partition("#")
    node: Any = {"$message.header": message.get("headers"),
                 "$message.payload": message.get("payload")}.get(source.strip())
    for part in pointer.split("/")[1:] if pointer else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


async def _iterate(foreach: m.SubscriptionIterator | None, message: Any, index: int,
                   run: TaskRun) -> tuple[Any, bool]:
    return await runner.subscription_item(run, foreach, _FOREACH, message, index)

