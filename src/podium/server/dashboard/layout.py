"""A layout of a workflow graph (``podium.dsl.graph``) for drawing as SVG.

Workflows are structured programs, so the layout follows their structure
instead of a general graph layout: a task list is a column (top to bottom, one
task under the other, joined by straight arrows); a composite task is a box
around its own column (``do``, ``for``, ``foreach``), its branches side by side
(``fork``), or its ``try`` and ``catch`` scopes side by side; jumps (a ``then``
to another task, ``switch`` cases, ``exit``) run in lanes to the right of the
column, each lane given to edges whose spans do not overlap. ``then: end``
inside a composite is drawn as a stub at its task, not as a line across boxes.

Everything is computed here (positions in pixels); the template only draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podium.dsl.graph import END, SCOPE, START, Edge, Graph, Node

LEAF_W = 216.0
LEAF_H = 44.0
CONDITION_H = 14.0  # an `if` line
TAG_H = 14.0  # a `then` line
CASE_H = 16.0  # a switch case row
HEADER_H = 40.0  # a composite's name and summary
SCOPE_HEADER_H = 26.0  # a try or catch scope's
PAD = 12.0
LOOP_PAD = 20.0  # room on the left for a loop's return arrow
ENTER = 22.0  # header to first task
GAP = 26.0  # between tasks of a column
EXIT = 22.0  # last task to the box's bottom
LANE = 11.0
LANE_MARGIN = 14.0
BRANCH_GAP = 20.0
SPLIT = 18.0  # room for a fork's split and join lines
CATCH_GAP = 70.0  # between a try scope and its catch scope (the "on error" arrow)
PILL_W, PILL_H = 86.0, 26.0
MARGIN = 16.0
IN_PORT = 12.0  # how far below a box's top a lane arrives

_STRAIGHT_KINDS = ("next",)
_LANE_KINDS = ("next", "then", "exit", "end", "case")


@dataclass
class Box:
    """A drawn node: a task, a composite's frame, a try/catch scope, start or end."""

    node: Node
    x: float
    y: float
    w: float
    h: float
    cluster: bool = False
    header_h: float = 0.0
    cases: list[tuple[str, float]] = field(default_factory=list)  # (label, y) of rows
    tag: str | None = None  # a flow directive shown on the task (``then exit``)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


@dataclass
class Line:
    """A drawn edge: an SVG path, its kind (for style) and an optional label."""

    d: str
    kind: str
    label: str | None = None
    label_x: float = 0.0
    label_y: float = 0.0
    arrow: bool = True


@dataclass
class Layout:
    width: float
    height: float
    boxes: list[Box]
    lines: list[Line]


def layout(graph: Graph) -> Layout:
    """Positions for every node and edge of ``graph``."""
    drawing = _Drawing(graph)
    top = _Column(drawing, [node for node in graph.children(None)
                            if node.kind not in (START, END)], None)
    width = max(top.width, PILL_W) + 2 * MARGIN
    axis = MARGIN + top.axis
    start = drawing.box(graph.node(START) or Node(START, "start", START),
                        axis - PILL_W / 2, MARGIN, PILL_W, PILL_H)
    y = MARGIN + PILL_H + ENTER
    top.place(MARGIN, y)
    if top.first is not None:
        drawing.arrow(f"M{axis:.1f},{start.y + PILL_H:.1f} V{y:.1f}", "enter")
    end_y = y + top.height + GAP
    end = drawing.box(graph.node(END) or Node(END, "end", END), axis - PILL_W / 2, end_y,
                      PILL_W, PILL_H)
    top.connect_exit(end.y, axis)
    return Layout(width, end_y + PILL_H + MARGIN, drawing.boxes, drawing.lines)


class _Drawing:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.boxes: list[Box] = []
        self.lines: list[Line] = []

    def box(self, node: Node, x: float, y: float, w: float, h: float, *,
            cluster: bool = False, header_h: float = 0.0, tag: str | None = None) -> Box:
        placed = Box(node, x, y, w, h, cluster=cluster, header_h=header_h, tag=tag)
        self.boxes.append(placed)
        return placed

    def arrow(self, d: str, kind: str, label: str | None = None, at: tuple[float, float] = (0, 0),
              arrow: bool = True) -> None:
        self.lines.append(Line(d, kind, label, at[0], at[1], arrow))


def _flow_edges(graph: Graph, node: Node) -> list[Edge]:
    return [e for e in graph.edges_from(node.id) if e.kind in _LANE_KINDS]


def _tag(graph: Graph, node: Node) -> str | None:
    """The flow directive a task states (``then``), shown on its box."""
    if node.kind == "switch":
        return None
    for edge in _flow_edges(graph, node):
        if edge.kind != "next" and edge.label:
            return f"then {edge.label}"
    return None


# sizes -----------------------------------------------------------------------------------


class _Item:
    """A task of a column: a leaf box or a composite frame, measured."""

    def __init__(self, drawing: _Drawing, node: Node) -> None:
        self.drawing = drawing
        self.node = node
        graph = drawing.graph
        self.inner: list[_Column] = []
        self.header = HEADER_H
        self.loop = any(e.kind in ("loop", "retry") and e.target == node.id
                        for e in graph.edges_from(node.id))
        children = graph.children(node.id)
        self.cluster = bool(children) or node.kind in ("do", "for", "fork", "try", SCOPE)
        if node.kind == SCOPE:
            self.header = SCOPE_HEADER_H
        self.tag = _tag(graph, node)
        if not self.cluster:
            self.width = LEAF_W
            rows = [e for e in graph.edges_from(node.id) if e.kind == "case"]
            self.height = (LEAF_H + (CONDITION_H if node.condition else 0)
                           + (TAG_H if self.tag else 0) + CASE_H * len(rows))
            return
        left = LOOP_PAD if self.loop else PAD
        if node.kind in ("fork", "try"):
            # Side by side: fork branches (each a column of one), or try and catch.
            self.inner = [_Column(drawing, [child], None, lone=True) for child in children]
            gap = CATCH_GAP if node.kind == "try" else BRANCH_GAP
            inner_w = sum(c.width for c in self.inner) + gap * max(len(self.inner) - 1, 0)
            inner_h = max((c.height for c in self.inner), default=0.0)
            self.width = max(inner_w + left + PAD, LEAF_W)
            self.height = self.header + SPLIT + inner_h + SPLIT + PAD
        else:
            column = _Column(drawing, children, node.id)
            self.inner = [column]
            self.width = max(column.width + left + PAD, LEAF_W)
            self.height = self.header + ENTER + column.height + EXIT
        self.left = left

    # placing --------------------------------------------------------------------------

    def place(self, x: float, y: float) -> Box:
        drawing, node = self.drawing, self.node
        graph = drawing.graph
        if not self.cluster:
            box = drawing.box(node, x, y, self.width, self.height, tag=self.tag)
            row_y = y + LEAF_H + (CONDITION_H if node.condition else 0) - 4
            for edge in graph.edges_from(node.id):
                if edge.kind == "case":
                    box.cases.append((edge.label or "", row_y + CASE_H / 2))
                    row_y += CASE_H
            return box
        box = drawing.box(node, x, y, self.width, self.height, cluster=True,
                          header_h=self.header, tag=self.tag)
        content_top = y + self.header
        bottom = y + self.height
        if node.kind in ("fork", "try"):
            self._place_side_by_side(box, content_top, bottom)
        else:
            column = self.inner[0]
            cx = x + self.left + column.axis
            column.place(x + self.left, content_top + ENTER)
            if column.first is not None:
                drawing.arrow(f"M{cx:.1f},{content_top:.1f} V{content_top + ENTER:.1f}",
                              "enter")
            column.connect_exit(bottom, cx)
            if self.loop:
                self._loop(column, cx, bottom)
        return box

    def _place_side_by_side(self, box: Box, top: float, bottom: float) -> None:
        drawing = self.drawing
        gap = CATCH_GAP if self.node.kind == "try" else BRANCH_GAP
        x = box.x + self.left
        cx = box.cx
        split_y, join_y = top + SPLIT / 2, bottom - PAD - SPLIT / 2
        placed = []
        for column in self.inner:
            column.place(x, top + SPLIT)
            placed.append((column, x))
            x += column.width + gap
        for index, (column, _) in enumerate(placed):
            child = column.boxes[0] if column.boxes else None
            if child is None:
                continue
            if self.node.kind == "fork" or index == 0:
                drawing.arrow(f"M{cx:.1f},{top:.1f} V{split_y:.1f} H{child.cx:.1f}"
                              f" V{child.y:.1f}", "branch" if self.node.kind == "fork"
                              else "enter")
            # Every branch (and the catch scope) rejoins below.
            drawing.arrow(f"M{child.cx:.1f},{child.y + child.h:.1f} V{join_y:.1f}"
                          f" H{cx:.1f}", "next", arrow=False)
        if self.node.kind == "try" and len(placed) == 2:
            body, handler = placed[0][0].boxes[0], placed[1][0].boxes[0]
            y = body.y + SCOPE_HEADER_H / 2
            drawing.arrow(f"M{body.x + body.w:.1f},{y:.1f} H{handler.x:.1f}", "catch",
                          "on error", (body.x + body.w + CATCH_GAP / 2, y - 5))
        if placed:
            drawing.arrow(f"M{cx:.1f},{join_y:.1f} V{bottom:.1f}", "next")

    def _loop(self, column: _Column, cx: float, bottom: float) -> None:
        """The way back from the last task of a loop's body (or a retried try)
        to its first, along the box's left side."""
        if not column.boxes:
            return
        first, last = column.boxes[0], column.boxes[-1]
        lx = column.left - LOOP_PAD / 2
        y = bottom - 5  # below where jumps out of the body join (EXIT / 2)
        self.drawing.arrow(
            f"M{last.cx - 14:.1f},{last.y + last.h:.1f} V{y:.1f} H{lx:.1f}"
            f" V{first.y + IN_PORT:.1f} H{first.x:.1f}", "loop")


class _Column:
    """A task list drawn top to bottom, with lanes on its right for jumps."""

    def __init__(self, drawing: _Drawing, nodes: list[Node], owner: str | None,
                 lone: bool = False) -> None:
        self.drawing = drawing
        self.owner = owner
        self.lone = lone
        # The top-level list is left into the end mark, a nested one down its box.
        self.root = owner is None and not lone
        self.items = [_Item(drawing, node) for node in nodes]
        self.ids = [item.node.id for item in self.items]
        self.first = self.ids[0] if self.ids else None
        self.content_w = max((item.width for item in self.items), default=LEAF_W / 2)
        self.axis = self.content_w / 2
        offsets, y = [], 0.0
        for item in self.items:
            offsets.append(y)
            y += item.height + GAP
        self.offsets = offsets
        self.content_h = max(y - GAP, 0.0)
        self.exit_y = self.content_h + EXIT  # where the column is left (relative)
        self.jumps = [] if lone else self._jumps()
        lanes = max((lane for *_, lane in self.jumps), default=-1) + 1
        self.width = self.content_w + (LANE_MARGIN + lanes * LANE if lanes else 0)
        self.height = self.content_h
        self.boxes: list[Box] = []
        self.left = 0.0
        self.top = 0.0

    def _jumps(self) -> list[tuple[Edge, int, float, float, int]]:
        """The edges drawn in lanes: (edge, source index, from y, to y, lane)."""
        graph = self.drawing.graph
        leave = self.owner if self.owner is not None else END
        found: list[tuple[Edge, int, float, float]] = []
        for index, item in enumerate(self.items):
            cases = 0
            for edge in _flow_edges(graph, item.node):
                is_case = edge.kind == "case"
                straight = not is_case and edge.kind in _STRAIGHT_KINDS and (
                    (index + 1 < len(self.ids) and edge.target == self.ids[index + 1])
                    or (index + 1 == len(self.ids) and edge.target == leave))
                if straight:
                    continue
                if edge.target == END and leave != END:
                    continue  # a stub at the task
                source_y = self.offsets[index] + self._out_port(item, cases if is_case else None)
                cases += is_case
                if edge.target in self.ids:
                    target_y = self.offsets[self.ids.index(edge.target)] + IN_PORT
                elif edge.target == leave:
                    target_y = self.content_h + (GAP + PILL_H / 2 if self.root else EXIT / 2)
                else:
                    continue
                found.append((edge, index, source_y, target_y))
        lanes: list[list[tuple[float, float]]] = []
        placed = []
        for edge, index, y1, y2 in sorted(found, key=lambda f: abs(f[3] - f[2])):
            low, high = min(y1, y2) - 3, max(y1, y2) + 3
            lane = next((n for n, used in enumerate(lanes)
                         if all(high < a or low > b for a, b in used)), len(lanes))
            if lane == len(lanes):
                lanes.append([])
            lanes[lane].append((low, high))
            placed.append((edge, index, y1, y2, lane))
        return placed

    def _out_port(self, item: _Item, case: int | None) -> float:
        if case is not None:
            condition = CONDITION_H if item.node.condition else 0
            return LEAF_H + condition - 4 + CASE_H * case + CASE_H / 2
        return item.height - IN_PORT

    def place(self, left: float, top: float) -> None:
        self.left, self.top = left, top
        axis = left + self.axis
        for index, item in enumerate(self.items):
            y = top + self.offsets[index]
            box = item.place(axis - item.width / 2, y)
            self.boxes.append(box)
            if index + 1 < len(self.items) and self._continues(index):
                nxt = top + self.offsets[index + 1]
                self.drawing.arrow(f"M{axis:.1f},{y + item.height:.1f} V{nxt:.1f}", "next")
            self._stub(box)
        for edge, index, y1, y2, lane in self.jumps:
            source = self.boxes[index]
            lx = left + self.content_w + LANE_MARGIN + lane * LANE
            ay1, ay2 = top + y1, top + y2
            if edge.target in self.ids:
                target = self.boxes[self.ids.index(edge.target)]
                end_x = target.x + target.w
            else:
                end_x = axis + (PILL_W / 2 if self.root else 0)
            self.drawing.arrow(
                f"M{source.x + source.w:.1f},{ay1:.1f} H{lx:.1f} V{ay2:.1f} H{end_x:.1f}",
                edge.kind)

    def _continues(self, index: int) -> bool:
        following = self.ids[index + 1]
        return any(e.kind in _STRAIGHT_KINDS and e.target == following
                   for e in _flow_edges(self.drawing.graph, self.items[index].node))

    def _stub(self, box: Box) -> None:
        """``then: end`` inside a composite: a short arrow to an end mark."""
        graph = self.drawing.graph
        if self.owner is None:
            return
        if any(e.target == END and e.kind in ("end", "case") for e in graph.edges_from(
                box.node.id)):
            y = box.y + box.h - IN_PORT
            x = box.x + box.w
            self.drawing.arrow(f"M{x:.1f},{y:.1f} H{x + 9:.1f}", "end-stub", arrow=False)

    def connect_exit(self, bottom: float, axis: float) -> None:
        """The arrow down to ``bottom`` (the box's edge or the end mark): from the
        last task when it continues, else from where jumps out of the list join."""
        if not self.items:
            return
        last = len(self.items) - 1
        leave = self.owner if self.owner is not None else END
        if any(e.kind in _STRAIGHT_KINDS and e.target == leave
               for e in _flow_edges(self.drawing.graph, self.items[last].node)):
            item_bottom = self.top + self.offsets[last] + self.items[last].height
            self.drawing.arrow(f"M{axis:.1f},{item_bottom:.1f} V{bottom:.1f}", "next")
        elif not self.root and any(edge.target == leave for edge, *_ in self.jumps):
            joined = self.top + self.content_h + EXIT / 2
            self.drawing.arrow(f"M{axis:.1f},{joined:.1f} V{bottom:.1f}", "next")
