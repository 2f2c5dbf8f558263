"""What a jq program may cost, read from its tokens before it ever runs.

libjq holds the GIL for a whole evaluation and aborts the process when malloc
fails, so nothing in-process can stop a runaway program. A small tokenizer
(strings with ``\\(...)`` interpolation, comments, ``$vars``, ``.field``,
keywords, operators) sorts every program into:

- **contained**: no construct that can loop, recurse, backtrack or allocate
  without bound; evaluated in-process (the fast path). Its result is at most a
  small multiple of the size of its input;
- **unbounded**: evaluated in a sandboxed child process with a time and memory
  budget (``podium.expressions.sandbox``). ``reasons`` says why.

Beyond loops and recursion, size can explode without either: a chain of stages
that each use their input twice doubles it at every stage (``.+. | .+. | ...``);
several generators combined in one operation multiply their counts (``.a[] +
.b[]``, ``{x: .a[], y: .b[]}``); a variable used once per item copies it for
every item (``.[] | [., $context]``); array subtraction and ``contains`` compare
every pair. Each of those is counted as unbounded too.

Over-approximating is safe (a contained program sent to the sandbox is only
slower); missing a construct is a defect, so each rule below has a test.

Separately, ``heavy_compile`` marks programs whose *compilation* may be
expensive: libjq 1.8 folds constant operands of binary operators while it
parses (``"x" * 2000000000`` allocates 2 GB inside ``jq.compile``; ``[...] -
[...]`` of two long literal arrays is quadratic). Those are compiled in a child
first and then always evaluated in the sandbox, so the parent never compiles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Builtins (any arity) that loop, recurse, backtrack, allocate by index or
# compare every pair, with the reason given. Judged bounded, so absent:
# `limit`/`first`/`nth` (bounded by their argument), `getpath` (read-only: null
# when missing), `tojson` (linear; weighed as amplifying), `split/1` and
# `ltrimstr` (glibc memmem is linear), `strftime` (its buffer is bounded),
# `sort`/`group_by`/`unique_by` (n log n).
_UNBOUNDED_CALLS: dict[str, str] = {
    "range": "generates without bound",
    "repeat": "loops without bound",
    "while": "loops without bound",
    "until": "loops without bound",
    "recurse": "recurses",
    "recurse_down": "recurses",
    "walk": "recurses, compounding at every level",
    "combinations": "grows exponentially",
    "input": "reads inputs",
    "inputs": "reads inputs",
    "transpose": "allocates rows times columns",
    "indices": "searches in quadratic time",
    "index": "searches in quadratic time",
    "rindex": "searches in quadratic time",
    "_strindices": "searches in quadratic time",
    "contains": "compares every pair of array items",
    "inside": "compares every pair of array items",
    "setpath": "allocates by index",
    "pick": "allocates by index",
    "fromstream": "allocates by index",
    "tostream": "multiplies data by its depth",
    "paths": "multiplies data by its depth",
    "leaf_paths": "multiplies data by its depth",
    "fromjson": "parses text into unbounded nesting",
    "test": "uses a regular expression (backtracking)",
    "match": "uses a regular expression (backtracking)",
    "capture": "uses a regular expression (backtracking)",
    "scan": "uses a regular expression (backtracking)",
    "splits": "uses a regular expression (backtracking)",
    "sub": "uses a regular expression (backtracking)",
    "gsub": "uses a regular expression (backtracking)",
    "_match_impl": "uses a regular expression (backtracking)",
}
# `split/2` takes a regex (`split/1` a plain string).
_REGEX_WITH_TWO_ARGUMENTS = frozenset({"split"})
# `join(sep)` repeats its separator once per item: fine for a literal.
_REPEATS_ITS_ARGUMENT = frozenset({"join"})
# Builtins that apply their argument once per item and keep what it gives.
_PER_ITEM = frozenset({"map", "map_values", "with_entries"})

_UNBOUNDED_KEYWORDS: dict[str, str] = {
    "def": "defines a function (which may recurse)",
    "reduce": "loops, compounding its state",
    "foreach": "loops, compounding its state",
}
# Path writers: `.[1e9] = 1` allocates a billion-element array.
_ASSIGNMENTS = frozenset({"=", "|=", "+=", "-=", "*=", "/=", "%=", "//="})

# Modules would read files from the worker's disk.
REFUSED_KEYWORDS = frozenset({"import", "include"})

_KEYWORDS = frozenset({
    "def", "if", "then", "elif", "else", "end", "as", "reduce", "foreach", "try", "catch",
    "label", "break", "import", "include", "and", "or", "__loc__",
})
# Variables that are no data of the workflow's.
_BUILTIN_VARIABLES = frozenset({"$__loc__", "$ENV"})

# Builtins whose output may be several times the size of their input (escaping,
# one number per character): they weigh more in the amplification bound.
_AMPLIFYING_CALLS = frozenset({"tojson", "tostring", "explode", "@json", "@text", "@html",
                               "@uri", "@sh", "@csv", "@tsv", "@base64", "@base32"})
_AMPLIFYING_WEIGHT = 6

# A contained program's result is at most (about) this many times the size of
# its inputs: beyond it, the program runs in the sandbox. Real expressions score
# under 10 (the spec's examples and CTK at most 8).
MAX_AMPLIFICATION = 32

# Programs longer than this compile in a child (constant folding of long
# literals, e.g. array subtraction, is quadratic in their length).
MAX_INPROCESS_COMPILE_CHARS = 4096

# Several capped string repetitions still add up.
_MAX_MULTIPLICATIONS = 3

_TWO_CHAR_OPERATORS = ("|=", "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "//")
_OPEN = "([{"


@dataclass(frozen=True)
class Shape:
    """What the tokenizer found in one program."""

    reasons: tuple[str, ...]  # why it is unbounded; empty when contained
    heavy_compile: bool
    multiplies: bool  # has a `*` operator (string repetition is capped by a prelude)
    variables: bool = True  # refers to a `$name` (which may be a free variable)
    refused: str | None = None  # a construct never accepted, with the reason

    @property
    def contained(self) -> bool:
        return not self.reasons and not self.heavy_compile


@dataclass
class _Frame:
    """One level of nesting: the whole program, ``(...)``, ``[...]``, ``{...}``,
    a string interpolation ``\\(...)``, or the arguments of a call ``f(...)``."""

    opener: str  # "", "(", "[", "{", "\\("
    call: str | None = None  # the function these are the arguments of
    # Amplification: the product over the pipe stages closed so far, and the
    # sum of the items of the current stage.
    product: float = 1.0
    total: float = 0.0
    # Inside `{}`: whether the next token starts an entry (a key position).
    at_key: bool = False
    # Generators (items yielding several values) combined by the current
    # operation, and whether this group as a whole yields several values.
    generators: int = 0
    generator: bool = False
    tokens: int = 0
    plain_strings: int = 0
    semicolons: int = 0


@dataclass
class _Scanner:
    """One pass over the text, tracking nesting with an explicit stack (a long
    program must not exhaust Python's recursion)."""

    text: str
    pos: int = 0
    reasons: list[str] = field(default_factory=list)
    refused: str | None = None
    has_string: bool = False
    has_variables: bool = False
    multiplications: int = 0
    # Set once an item-by-item iteration (`.[]`, `map`) has been seen: a
    # variable used after it is copied once per item.
    iterated: bool = False
    frames: list[_Frame] = field(default_factory=lambda: [_Frame("")])
    # The previous significant token: "start", "term", "number", "open",
    # "operator", "keyword" or "format". Decides whether `.x` continues a term (a
    # postfix) or starts one, whether `[` indexes, whether `-` is binary.
    previous: str = "start"
    word_before: str = ""  # the last keyword or name, for `label $x` and `break $x`

    # --- scoring -----------------------------------------------------------------

    def add(self, weight: float) -> None:
        frame = self.frames[-1]
        frame.total += weight
        frame.tokens += 1

    def generated(self) -> None:
        """The current item yields several values."""
        frame = self.frames[-1]
        frame.generators += 1
        frame.generator = True
        if frame.generators == 2:
            self.reasons.append("it combines several generators (a cartesian product)")

    def pipe(self) -> None:
        frame = self.frames[-1]
        frame.product = min(frame.product * max(1.0, frame.total), 1e12)
        frame.total = 0.0
        frame.generators = 0

    def comma(self) -> None:
        frame = self.frames[-1]
        if frame.opener == "{":
            frame.at_key = True  # the next entry; entries multiply their generators
        elif frame.opener != "[":
            frame.generator = True  # `(a, b)` yields both
            frame.generators = 0
        else:
            frame.generators = 0  # `[a, b]` collects both

    def push(self, opener: str, call: str | None = None) -> None:
        parent = self.frames[-1]
        if parent.opener == "{" and parent.at_key:
            parent.at_key = False  # `{(expr): v}` or `{"\(k)": v}`: a computed key
        self.frames.append(_Frame(opener, call=call, at_key=opener == "{"))

    def pop(self) -> None:
        if len(self.frames) == 1:
            return  # unbalanced: jq reports it when compiling
        frame = self.frames.pop()
        if frame.call in _REGEX_WITH_TWO_ARGUMENTS and frame.semicolons >= 1:
            self.reasons.append(f"'{frame.call}' with two arguments uses a regular "
                                "expression (backtracking)")
        if frame.call in _REPEATS_ITS_ARGUMENT and not (
            frame.tokens == frame.plain_strings == 1
        ):
            self.reasons.append(f"'{frame.call}' repeats a computed separator once per item")
        self.add(min(frame.product * max(1.0, frame.total), 1e12))
        # `[...]` collects what it holds; any other group yields what it holds.
        if frame.generator and frame.opener != "[" and frame.call not in _PER_ITEM:
            self.generated()

    def amplification(self) -> float:
        while len(self.frames) > 1:
            self.pop()
        frame = self.frames[0]
        return frame.product * max(1.0, frame.total)

    # --- tokens ------------------------------------------------------------------

    def run(self) -> None:
        text, size = self.text, len(self.text)
        while self.pos < size:
            char = text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = size if end < 0 else end + 1
            elif char == '"':
                self.string()
            elif char == ")" and self.frames[-1].opener == "\\(":
                # The end of a string interpolation: back inside the string.
                self.pop()
                self.pos += 1
                self.string(resume=True)
            elif char in _OPEN:
                self.open(char)
            elif char in ")]}":
                self.pop()
                self.pos += 1
                self.previous = "term"
            elif char == ".":
                self.dot()
            elif char == "$":
                self.variable()
            elif char == "@":
                self.format()
            elif char.isdigit():
                self.number()
            elif char.isalpha() or char == "_":
                self.word()
            else:
                self.operator()

    def open(self, char: str) -> None:
        self.pos += 1
        following, index = self._next()
        if char == "[" and self.previous == "term" and following == "]":
            # `.[]`, `.a[]`, `$x[]`: iterates, yielding every item.
            self.pos = index + 1
            self.iterated = True
            self.generated()
            self.previous = "term"
            return
        self.push(char)
        self.previous = "open"

    def string(self, resume: bool = False) -> None:
        """A string literal up to its closing quote or to an interpolation
        ``\\(``, whose expression is then scanned as a nested group."""
        text, size = self.text, len(self.text)
        self.has_string = True
        if not resume:
            frame = self.frames[-1]
            if frame.opener == "{" and frame.at_key:
                frame.at_key = False
            self.pos += 1
            start = self.pos
        else:
            start = -1
        while self.pos < size:
            char = text[self.pos]
            if char == "\\":
                if text.startswith("\\(", self.pos):
                    self.push("\\(")
                    self.pos += 2
                    self.previous = "open"
                    return
                self.pos += 2
            elif char == '"':
                self.pos += 1
                if start >= 0:  # a plain string, no interpolation
                    frame = self.frames[-1]
                    frame.plain_strings += 1
                    frame.tokens += 1
                self.previous = "term"
                return
            else:
                self.pos += 1

    def dot(self) -> None:
        text = self.text
        if text.startswith("..", self.pos):
            self.reasons.append("'..' recurses, multiplying data by its depth")
            self.pos += 2
            self.add(1)
            self.previous = "term"
            return
        self.pos += 1
        end = self.pos
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        # `.a.b[0]` is one term: only its first step is a reference of its own.
        if self.previous not in ("term", "number"):
            self.add(1)
        self.pos = end
        self.previous = "term"

    def variable(self) -> None:
        end = self.pos + 1
        text = self.text
        while end < len(text) and (text[end].isalnum() or text[end] in "_:"):
            end += 1
        name = text[self.pos:end]
        # `label $out` and `break $out` name a label, not data.
        label = self.previous == "keyword" and self.word_before in ("label", "break")
        if name not in _BUILTIN_VARIABLES and not label:
            self.has_variables = True
            if self.iterated:
                self.reasons.append(
                    f"'{name}' after an iteration may be copied once per item"
                )
        frame = self.frames[-1]
        if frame.opener == "{" and frame.at_key:
            frame.at_key = False
        if self.previous not in ("term", "number"):
            self.add(1)
        self.pos = end
        self.previous = "term"

    def format(self) -> None:
        end = self.pos + 1
        text = self.text
        while end < len(text) and text[end].isalnum():
            end += 1
        name = text[self.pos:end]
        self.add(_AMPLIFYING_WEIGHT if name in _AMPLIFYING_CALLS else 1)
        self.pos = end
        self.previous = "format"

    def number(self) -> None:
        end = self.pos
        text = self.text
        while end < len(text) and (text[end].isalnum() or text[end] == "."):
            if text[end] in "eE" and end + 1 < len(text) and text[end + 1] in "+-":
                end += 1
            end += 1
        self.pos = end
        self.frames[-1].tokens += 1
        self.previous = "number"

    def word(self) -> None:
        text = self.text
        end = self.pos
        while end < len(text) and (text[end].isalnum() or text[end] == "_" or (
            text.startswith("::", end)
        )):
            end += 2 if text.startswith("::", end) else 1
        name = text[self.pos:end]
        self.pos = end
        self.word_before = name
        frame = self.frames[-1]
        following, index = self._next()
        if frame.opener == "{" and frame.at_key and following in (":", ",", "}"):
            # An object key (`{if: 1}`, `{range: 2}`) or the shorthand `{a}` = `{a: .a}`.
            frame.at_key = False
            if following != ":":
                self.add(1)
            self.previous = "term"
            return
        if name in REFUSED_KEYWORDS:
            self.refused = (f"'{name}' is not supported: an expression cannot load modules "
                            "or files")
        if name in _KEYWORDS:
            if name in _UNBOUNDED_KEYWORDS:
                self.reasons.append(f"'{name}' {_UNBOUNDED_KEYWORDS[name]}")
            self.frames[-1].tokens += 1
            self.previous = "term" if name in ("end", "__loc__") else "keyword"
            return
        why = _UNBOUNDED_CALLS.get(name)
        if why is not None:
            self.reasons.append(f"'{name}' {why}")
        if name in _PER_ITEM:
            self.iterated = True
        self.add(_AMPLIFYING_WEIGHT if name in _AMPLIFYING_CALLS else 1)
        if following == "(":
            self.pos = index + 1
            self.push("(", call=name)
            self.previous = "open"
            return
        self.previous = "term"

    def operator(self) -> None:
        text = self.text
        three = text[self.pos:self.pos + 3]
        two = text[self.pos:self.pos + 2]
        if three in ("//=", "?//"):
            token = three
        elif two in _TWO_CHAR_OPERATORS:
            token = two
        else:
            token = text[self.pos]
        left = self.previous
        self.pos += len(token)
        if token in _ASSIGNMENTS:
            self.reasons.append(f"the assignment '{token}' may allocate by index")
        if token in ("*", "*="):
            self.multiplications += 1
        if token == "-" and left == "term" and not self._next_significant().isdigit():
            # Arrays subtract by comparing every pair; numbers (a literal on
            # either side) are the usual case and cost nothing.
            self.reasons.append("'-' between two computed values may subtract arrays "
                                "(comparing every pair)")
        frame = self.frames[-1]
        if token == "|":
            self.pipe()
        elif token == ",":
            self.comma()
        elif token == ";":
            frame.semicolons += 1
        elif token == "?":
            self.previous = "term"
            return
        self.previous = "operator"

    def _next_significant(self) -> str:
        return self._next()[0]

    def _next(self) -> tuple[str, int]:
        """The next character that is neither blank nor in a comment, and where."""
        text, index = self.text, self.pos
        while index < len(text):
            char = text[index]
            if char in " \t\r\n":
                index += 1
            elif char == "#":
                end = text.find("\n", index)
                if end < 0:
                    break
                index = end + 1
            else:
                return char, index
        return "", len(text)


def classify(source: str) -> Shape:
    """The shape of a jq program (the text inside ``${ }``)."""
    scanner = _Scanner(source)
    scanner.run()
    amplification = scanner.amplification()
    reasons = list(dict.fromkeys(scanner.reasons))
    if scanner.multiplications > _MAX_MULTIPLICATIONS:
        reasons.append(f"it repeats strings {scanner.multiplications} times")
    if amplification > MAX_AMPLIFICATION:
        reasons.append(
            f"its result may be up to {amplification:,.0f} times the size of its input"
        )
    # libjq folds `"text" * number` at compile time, before any definition can
    # intercept `*`; long programs may fold long literals quadratically.
    heavy = len(source) > MAX_INPROCESS_COMPILE_CHARS or (
        scanner.multiplications > 0 and scanner.has_string
    )
    return Shape(
        reasons=tuple(reasons),
        heavy_compile=heavy,
        multiplies=scanner.multiplications > 0,
        variables=scanner.has_variables,
        refused=scanner.refused,
    )
