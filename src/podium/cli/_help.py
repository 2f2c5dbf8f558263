"""``--help`` that reads like a command line's, at 80 columns.

Typer's Rich help puts a Python type beside every parameter: ``--help <bool>``
for a flag (which takes no value), ``FILE <list[Path]>`` for an argument whose
metavar already names it, ``<int range>``, and the choices of a ``Literal`` as
one word that Rich cuts anywhere when the column is narrow
(``su|spended``). The root group here adjusts each parameter of the tree it
is given, once, when Typer builds it (per-object, so no other Typer app in the
process is touched):

- a flag shows no value; an argument shows its name (``FILE...``; optional
  ones in brackets);
- an option shows its metavar, else a click-style ``INTEGER``, ``NUMBER``,
  ``TEXT``, ``PATH``;
- an option with choices shows its name (``STATUS``) and lists the choices
  in its help text, which wraps between words.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

import typer.core
from typer import Context

_NAMES = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT", "Path": "PATH"}


def _option_type(option: typer.core.TyperOption, ctx: Context) -> str | None:
    if option.is_flag or option.count:
        return None
    if option.metavar is not None:
        return option.metavar
    if option.type_descriptor.is_choice:
        return (option.name or "value").upper()
    label = option.display_type(ctx).strip("<>").removesuffix(" range")
    return _NAMES.get(label, label.upper())


def _no_type(argument: typer.core.TyperArgument, ctx: Context) -> str | None:
    return None


def _argument_usage(argument: typer.core.TyperArgument) -> str:
    name = argument.display_name_raw
    if not argument.required:
        name = f"[{name}]"
    return name + ("..." if argument.nargs != 1 else "")


def _adjust(params: Iterable[Any]) -> None:
    for param in params:
        if getattr(param, "_podium_help", False):
            continue
        param._podium_help = True
        # Instance attributes shadow the class's methods for these objects only.
        if isinstance(param, typer.core.TyperOption):
            param.display_type_rich = types.MethodType(_option_type, param)  # type: ignore[method-assign]
            choices = param.type_descriptor.choices if param.type_descriptor.is_choice else None
            if choices and param.metavar is None:
                listed = ", ".join(str(choice) for choice in choices)
                param.help = f"{param.help or ''} One of: {listed}.".strip()
        elif isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = types.MethodType(_no_type, param)  # type: ignore[method-assign]
            param._usage_display_name = types.MethodType(_argument_usage, param)  # type: ignore[method-assign]


def _help_option_adjusted(command: Any) -> None:
    """The ``--help`` option is made on first use: adjust it then."""
    make = command.get_help_option

    def get_help_option(ctx: Context) -> Any:
        option = make(ctx)
        if option is not None:
            _adjust([option])
        return option

    command.get_help_option = get_help_option


def adjust_tree(command: Any) -> None:
    """Adjust ``command``'s parameters, and its subcommands' if it is a group
    (Typer's commands; their click-like base classes live in a private module)."""
    _adjust(command.params)
    _help_option_adjusted(command)
    if isinstance(command, typer.core.TyperGroup):
        for child in command.commands.values():
            adjust_tree(child)


class PodiumGroup(typer.core.TyperGroup):
    """The root command: built by Typer with every subcommand in place."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adjust_tree(self)
