"""The sandbox templates run in: Jinja's immutable sandbox, with every operator, method
call, filter, loop step and output checked against the render's budget before it runs.

Jinja's optimizer is off: it would compute constant expressions (``9**4000000``) while
compiling, before any check. Filters take the context and operators are intercepted, so
the code generator cannot compute them ahead either.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crm.services.templates import budget, calls, filters, operators

COUNTED = "_counted"  # the filter each loop's sequence goes through (not for templates)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self) -> None:
        super().__init__(autoescape=False, optimized=False, finalize=_written)
        self.globals.clear()  # no range/lipsum/cycler/namespace: a message needs the customer
        self.filters = filters.bounded(self.filters) | {COUNTED: _counted}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget.current().check_time()
        left, right = operators.checked(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget.current().check_time()
        calls.check(obj, args)
        return super().call(context, obj, *args, **kwargs)

    def budgeted(self, template: nodes.Template) -> nodes.Template:
        """``template`` with each loop's steps and all its output counted in the budget:
        a loop's sequence goes through ``_counted``, and its text through ``_written``
        (as a constant, not template data, which Jinja writes out unchecked)."""
        for loop in template.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, COUNTED, [], [], None, None, lineno=loop.lineno)
        for output in template.find_all(nodes.Output):
            output.nodes = [
                nodes.Const(child.data, lineno=child.lineno)
                if isinstance(child, nodes.TemplateData)
                else child
                for child in output.nodes
            ]
        return template


def _counted(sequence: Iterable[Any]) -> Iterator[Any]:
    spent = budget.current()
    for item in sequence:
        spent.count_iteration()
        yield item


@pass_context
def _written(context: Context, value: Any) -> str:
    """Each ``{{ }}`` value as it is written, counted against the message's length."""
    spent = budget.current()
    spent.check_time()
    budget.check_size(value, "the value")
    text = str(value)
    spent.count_output(len(text))
    return text
