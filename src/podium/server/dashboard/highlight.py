"""A definition's source, highlighted (YAML or JSON) with Pygments: the lexer
splits it into tokens and the formatter escapes each before wrapping it in a
``<span>``, so the markup returned holds nothing of the source unescaped."""

from __future__ import annotations

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer, YamlLexer


def highlighted(source: str) -> Markup:
    """The source as an HTML table of numbered lines (classes styled by
    ``dashboard.css``)."""
    lexer = JsonLexer() if source.lstrip().startswith(("{", "[")) else YamlLexer()
    formatter = HtmlFormatter(linenos="table", cssclass="source", wrapcode=True)
    return Markup(highlight(source, lexer, formatter))
