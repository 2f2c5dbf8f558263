"""Static checks that run when a document loads, before anything executes.

- flow directives (``then``) name a task of their own list;
- names taken from ``use.*`` exist (errors, retries, timeouts, authentications,
  functions, secrets, catalogs);
- every runtime expression compiles;
- a ``schedule`` names exactly one of ``every``, ``cron``, ``after``, ``on``; its
  cron expression is valid, and ``on`` has no ``until`` (see ``_check_schedule``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from podium.dsl import model as m
from podium.dsl.cron import cron_problem
from podium.dsl.loader import Pointer, Problem, Source
from podium.expressions import (
    ExpressionSyntaxError,
    compile_budget,
    compile_expression,
    expression_text,
)
from podium.expressions.jq import is_expression

DIRECTIVES = ("continue", "exit", "end")

# Fields that always hold a jq expression, with or without ``${ }``.
_EXPRESSION_FIELDS: dict[type[BaseModel], tuple[str, ...]] = {
    m.Input: ("from_",),
    m.Output: ("as_",),
    m.Export: ("as_",),
    m.ForConfig: ("in_",),
    m.ForTask: ("while_",),
    m.SwitchCase: ("when",),
    m.Catch: ("when", "except_when"),
    m.RetryPolicy: ("when", "except_when"),
    m.Correlation: ("from_",),
    m.EventConsumptionStrategy: ("until",),
    m.Extension: ("when",),
}
# Values that are data, not templates: never scanned for expressions.
_OPAQUE: set[tuple[type[BaseModel], str]] = {
    (m.Schema, "document"),
    (m.TaskBase, "metadata"),
    (m.Document, "metadata"),
    (m.Document, "tags"),
}


def check(workflow: m.Workflow, source: Source) -> list[Problem]:
    problems: list[Problem] = []
    use = workflow.use or m.Use()
    problems += _check_flow(workflow, source)
    problems += _check_references(workflow, use, source)
    problems += _check_schedule(workflow, source)
    with compile_budget():  # validating any document stays within a fixed time
        problems += _check_expressions(workflow, source)
    return problems


# --- walking the model alongside document paths ---------------------------------------


def _alias(model: BaseModel, name: str) -> str:
    info = type(model).model_fields[name]
    return info.alias or name


def _walk(root: Any, path: Pointer) -> Iterator[tuple[Any, Pointer]]:
    """Every model, dict and list in the tree with its document path, parents first.
    Iterative: data nested as deep as the loader allows costs no recursion."""
    stack: list[tuple[Any, Pointer]] = [(root, path)]
    while stack:
        node, here = stack.pop()
        yield node, here
        children: list[tuple[Any, Pointer]] = []
        if isinstance(node, BaseModel):
            for name in node.model_fields_set:
                if name not in type(node).model_fields:
                    continue
                if any(isinstance(node, cls) and name == f for cls, f in _OPAQUE):
                    continue
                children.append((getattr(node, name), (*here, _alias(node, name))))
        elif isinstance(node, dict):
            children = [(value, (*here, key)) for key, value in node.items()]
        elif isinstance(node, list):
            children = [(value, (*here, index)) for index, value in enumerate(node)]
        stack.extend(reversed(children))


def _task_lists(workflow: m.Workflow) -> Iterator[tuple[list[dict[str, Any]], Pointer]]:
    for node, path in _walk(workflow, ()):
        if not isinstance(node, list) or not node:
            continue
        if all(
            isinstance(item, dict)
            and len(item) == 1
            and isinstance(next(iter(item.values())), m.TaskBase)
            for item in node
        ):
            yield node, path


# --- flow -------------------------------------------------------------------------------


def _listing(names: Iterable[str], limit: int = 10) -> str:
    """Some names for a message: a document with 20,000 tasks and as many mistakes
    must not print 20,000 x 20,000 names."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown}, ... ({len(ordered) - limit} more)"


def _check_flow(workflow: m.Workflow, source: Source) -> list[Problem]:
    problems = []
    lists = {path: tasks for tasks, path in _task_lists(workflow)}
    names_of = {path: {next(iter(item)) for item in tasks} for path, tasks in lists.items()}
    for path, tasks in lists.items():
        names = names_of[path]
        # Lists that enclose this one (their paths are prefixes of this one's, at
        # most as many as the nesting is deep): a directive cannot reach their tasks.
        enclosing = [names_of[path[:end]] for end in range(len(path)) if path[:end] in names_of]
        for index, item in enumerate(tasks):
            name, task = next(iter(item.items()))
            here = (*path, index, name)
            targets: list[tuple[str, Pointer]] = []
            if task.then is not None:
                targets.append((task.then, (*here, "then")))
            if isinstance(task, m.SwitchTask):
                for case_index, case in enumerate(task.switch):
                    case_name, case_def = next(iter(case.items()))
                    targets.append(
                        (case_def.then, (*here, "switch", case_index, case_name, "then"))
                    )
            for target, where in targets:
                if target in DIRECTIVES or target in names:
                    continue
                message = (
                    f"flow directive '{target}' names no task of this list "
                    f"(tasks here: {_listing(names)}; or continue, exit, end)"
                )
                if any(target in outer for outer in enclosing):
                    message += (
                        f"; '{target}' belongs to an enclosing list, which a directive "
                        "cannot reach (use 'exit' to leave this one)"
                    )
                problems.append(source.problem(where, message))
            if isinstance(task, m.SwitchTask):
                defaults = [c for c in task.switch if next(iter(c.values())).when is None]
                if len(defaults) > 1:
                    problems.append(source.problem(
                        (*here, "switch"), "a switch has at most one default case (no 'when')"
                    ))
    return problems


# --- use.* references -------------------------------------------------------------------


def _check_references(workflow: m.Workflow, use: m.Use, source: Source) -> list[Problem]:
    problems: list[Problem] = []

    def need(kind: str, table: dict[str, Any] | list[str] | None, name: str, path: Pointer) -> None:
        if table is None or name not in table:
            known = _listing(table) if table else "none defined"
            problems.append(
                source.problem(path, f"'{name}' is not defined in use.{kind} ({known})")
            )

    secret_auth = (m.BasicAuth, m.BearerAuth, m.OAuth2Auth)
    for node, path in _walk(workflow, ()):
        if isinstance(node, m.TaskBase) and isinstance(node.timeout, str):
            need("timeouts", use.timeouts, node.timeout, (*path, "timeout"))
        if isinstance(node, m.RaiseTask) and isinstance(node.raise_.error, str):
            need("errors", use.errors, node.raise_.error, (*path, "raise", "error"))
        if isinstance(node, m.Catch) and isinstance(node.retry, str):
            need("retries", use.retries, node.retry, (*path, "retry"))
        if isinstance(node, m.ReferenceableAuthenticationPolicy) and node.use is not None:
            need("authentications", use.authentications, node.use, (*path, "use"))
        elif isinstance(node, secret_auth) and node.use is not None:
            need("secrets", use.secrets, node.use, (*path, "use"))
        if isinstance(node, m.CallFunction):
            _check_function(node.call, use, source, (*path, "call"), problems)
    if isinstance(workflow.timeout, str):
        need("timeouts", use.timeouts, workflow.timeout, ("timeout",))
    return problems


def _check_function(
    name: str, use: m.Use, source: Source, path: Pointer, problems: list[Problem]
) -> None:
    if "://" in name:  # a function definition by URI (dsl.md "Using a Custom Function")
        return
    if "@" in name:
        catalog = name.rsplit("@", 1)[1]
        if catalog != "default" and (use.catalogs is None or catalog not in use.catalogs):
            problems.append(source.problem(
                path, f"catalog '{catalog}' of '{name}' is not defined in use.catalogs"
            ))
        return
    if use.functions is None or name not in use.functions:
        known = _listing(use.functions) if use.functions else "none defined"
        problems.append(source.problem(
            path,
            f"unknown function '{name}': not a built-in call (asyncapi, grpc, http, openapi, "
            f"a2a, mcp) nor defined in use.functions ({known})",
        ))


# --- schedule ----------------------------------------------------------------------------

SCHEDULE_KINDS = ("every", "cron", "after", "on")


def _check_schedule(workflow: m.Workflow, source: Source) -> list[Problem]:
    """A schedule is one rule (the spec does not say how two would combine); a cron
    expression must be valid; ``on`` takes no ``until``: a schedule starts an
    instance per match and listens for as long as it is deployed, so there is
    nothing for ``until`` to end (a ``listen`` task inside the workflow can)."""
    schedule = workflow.schedule
    if schedule is None:
        return []
    given = [kind for kind in SCHEDULE_KINDS if getattr(schedule, kind) is not None]
    if len(given) != 1:
        what = "none" if not given else " and ".join(f"'{kind}'" for kind in given)
        return [source.problem(
            ("schedule",), f"a schedule takes exactly one of 'every', 'cron', 'after' or"
            f" 'on', got {what}",
        )]
    if schedule.cron is not None:
        problem = cron_problem(schedule.cron)
        if problem is not None:
            return [source.problem(("schedule", "cron"), problem)]
    if schedule.on is not None and schedule.on.until is not None:
        return [source.problem(
            ("schedule", "on", "until"),
            "'until' is not supported in a schedule: a schedule starts an instance for every"
            " match for as long as it is deployed; use a 'listen' task with 'until' instead",
        )]
    return []


# --- expressions -------------------------------------------------------------------------


def _check_expressions(workflow: m.Workflow, source: Source) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[Pointer] = set()

    def compile_at(text: str, path: Pointer) -> None:
        if path in seen:
            return
        seen.add(path)
        try:
            compile_expression(expression_text(text))
        except ExpressionSyntaxError as exc:
            problems.append(source.problem(path, f"invalid expression '{text}': {exc}"))

    for node, path in _walk(workflow, ()):
        if isinstance(node, BaseModel):
            for cls, fields in _EXPRESSION_FIELDS.items():
                if isinstance(node, cls):
                    for name in fields:
                        value = getattr(node, name)
                        if isinstance(value, str):
                            compile_at(value, (*path, _alias(node, name)))
            if isinstance(node, m.TaskBase) and node.if_ is not None:
                compile_at(node.if_, (*path, "if"))
        elif isinstance(node, str) and is_expression(node):
            # Any `${ }` value, in either evaluation mode: loose mode only adds
            # bare jq that cannot be told from text, so that is not checked.
            compile_at(node, path)
    return problems
