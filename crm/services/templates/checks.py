"""What a template may hold, checked on its parsed tree before it is compiled: output,
``if``, ``for`` loops nested at most MAX_LOOP_DEPTH deep, expressions, the allowed
filters and Jinja's tests. Nothing that assigns or buffers output (``set``, ``with``,
macros, ``call`` and ``filter`` blocks, recursive loops), so every value a render makes
comes from one expression, and all its output passes the budget as it is written.
"""

from collections.abc import Iterable

from jinja2 import nodes

from crm.services.templates import filters

MAX_LOOP_DEPTH = 2
MAX_NESTING = 20  # brackets inside brackets, well within the parser's and Python's own limits
LONGEST_NUMBER = 100  # digits of a number written in a template
ALLOWED = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.For,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Keyword,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.BinExpr,
    nodes.Concat,
    nodes.CondExpr,
    nodes.Tuple,
    nodes.List,
    nodes.Dict,
    nodes.Pair,
)
DESCRIBED: dict[type[nodes.Node], str] = {
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.With: "{% with %}",
    nodes.Macro: "macros",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
}


class Refused(Exception):
    def __init__(
        self, line: int, problem: str, summary: str = "The message template is not allowed."
    ):
        super().__init__(problem)
        self.line = line
        self.summary = summary


def check_tokens(tokens: Iterable[tuple[int, str, str]]) -> None:
    """Refuse brackets nested too deep and numbers too long, from the lexer's tokens
    (before the parser, which recurses once per bracket)."""
    depth = 0
    for line, kind, value in tokens:
        if kind == "operator" and value in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise Refused(line, f"brackets nested more than {MAX_NESTING} deep")
        elif kind == "operator" and value in ")]}":
            depth = max(depth - 1, 0)
        elif kind in ("integer", "float") and len(value) > LONGEST_NUMBER:
            raise Refused(line, f"a number of more than {LONGEST_NUMBER} digits")


def names_used(template: nodes.Template) -> dict[str, int]:
    """The variables ``template`` reads from the customer, with the line each is first
    read on; Refused for anything it may not hold."""
    used: dict[str, int] = {}
    pending: list[tuple[nodes.Node, int, frozenset[str]]] = [(template, 0, frozenset())]
    while pending:
        node, loops, bound = pending.pop()
        _check_node(node, loops)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in bound:
            used[node.name] = min(used.get(node.name, node.lineno), node.lineno)
        if isinstance(node, nodes.For):
            targets = [node.target, *node.target.find_all(nodes.Name)]
            inner = bound | {"loop"} | {t.name for t in targets if isinstance(t, nodes.Name)}
            pending.append((node.iter, loops, bound))
            pending.extend((child, loops + 1, inner) for child in node.body)
            pending.extend((child, loops, bound) for child in node.else_)
            if node.test is not None:
                pending.append((node.test, loops + 1, inner))
        else:
            pending.extend((child, loops, bound) for child in node.iter_child_nodes())
    return used


def _check_node(node: nodes.Node, loops: int) -> None:
    line = node.lineno or 1
    if not isinstance(node, ALLOWED):
        what = DESCRIBED.get(type(node), type(node).__name__)
        raise Refused(line, f"{what} is not allowed in a message")
    if isinstance(node, nodes.For):
        if node.recursive:
            raise Refused(line, "recursive loops are not allowed in a message")
        if loops >= MAX_LOOP_DEPTH:
            raise Refused(line, f"loops may be nested at most {MAX_LOOP_DEPTH} deep")
    if isinstance(node, nodes.Filter) and node.name not in filters.CHECKS:
        raise Refused(line, f"the filter {node.name!r} is not allowed in a message")
