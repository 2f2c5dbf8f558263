"""A definition's source, highlighted (YAML or JSON) with Pygments: the lexer
splits it into tokens and the formatter escapes each before wrapping it in a
``<span>``, so the markup returned holds nothing of the source unescaped."""

from __future__ import annotations

import io
from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer
from ruamel.yaml import YAML


def as_yaml(document: dict[str, Any]) -> str:
    """A document as YAML, its keys in their order."""
    yaml = YAML()
    yaml.width = 4096  # long expressions stay on their line
    yaml.indent(mapping=2, sequence=4, offset=2)
    text = io.StringIO()
    yaml.dump(document, text)
    return text.getvalue()


def source_text(source: str, document: dict[str, Any]) -> str:
    """What to show of a stored definition: its text when it was kept as written
    (YAML), else (the registry stores JSON) the document written as YAML."""
    return as_yaml(document) if source.lstrip().startswith("{") else source


def highlighted(source: str) -> Markup:
    """The source as an HTML table of numbered lines (classes styled by
    ``dashboard.css``)."""
    lexer = JsonLexer() if source.lstrip().startswith(("{", "[")) else YamlLexer()
    formatter = HtmlFormatter(linenos="table", cssclass="source", wrapcode=True)
    return Markup(highlight(source, lexer, formatter))
