"""definition/limits.py: the bounds measured before the CEL library sees an
expression, and the sizes the store and datetime arithmetic can hold."""

from __future__ import annotations

import pytest

from journeyflow.definition.limits import (
    MAX_COMPREHENSION_DEPTH,
    MAX_EXPRESSION_DEPTH,
    MAX_LITERAL_ITEMS,
    ExpressionLimitError,
    check_expression,
)
from journeyflow.definition.loader import validate_text
from tests.journeys import MINIMAL


def code_of(source: str) -> str | None:
    try:
        check_expression(source)
    except ExpressionLimitError as exc:
        return exc.code
    return None


def test_what_people_write_passes() -> None:
    for source in (
        'has(event.properties.survey) && event.properties.survey == "near-loyal"',
        "customer.orders.filter(o, o.total > 100).map(o, o.items.exists(i, i == 1)).size() > 0",
        "{'a': 1, 'b': [1, 2, 3]}.size() == 2",
        " || ".join(f"event.properties.n == {i}" for i in range(12)),
    ):
        assert code_of(source) is None, source


def test_items_side_by_side_are_not_nested() -> None:
    # 200 items each holding an operator: wide, not deep
    assert code_of("[" + ", ".join(f"{i} + 1" for i in range(200)) + "].size() > 0") is None
    assert code_of("f(" + ", ".join(["a.b.c"] * 100) + ")") is None


def test_operators_along_one_path_add_up_through_brackets() -> None:
    # an upper bound on the tree's depth: the library may nest less, never more
    half = "+".join(["1"] * (MAX_EXPRESSION_DEPTH // 2 + 1))
    assert code_of(f"{half} + ({half})") == "JF405"
    assert code_of("+".join(["1"] * (MAX_EXPRESSION_DEPTH - 1))) is None


def test_text_inside_strings_is_not_counted() -> None:
    assert code_of('"' + "(((+.+[" * 200 + '" == x') is None
    assert code_of("r'''" + "a.b" * 300 + "''' != ''") is None
    assert code_of(r'"\"(" + "x"') is None
    # a raw string has no escapes: `r'\'` ends at its second quote, and what
    # follows is counted (read as an escape, it would hide the chain)
    assert code_of("r'\\' + " + "+".join(["1"] * 100) + " + 'x'") == "JF405"
    assert code_of("r'\\' + 'x'") is None


def test_literal_size() -> None:
    items = ", ".join(["1"] * MAX_LITERAL_ITEMS)
    assert code_of(f"[{items}].size() > 0") is None
    assert code_of(f"[{items}, 1].size() > 0") == "JF406"
    entries = ", ".join(f"'k{i}': 1" for i in range(MAX_LITERAL_ITEMS + 1))
    assert code_of("{" + entries + "}.size() > 0") == "JF406"
    assert code_of("[].size() == 0") is None


def test_comprehension_nesting_counts_only_nesting() -> None:
    two = "xs.exists(x, x.ys.all(y, y > 0))"
    assert MAX_COMPREHENSION_DEPTH == 2
    assert code_of(two) is None
    assert code_of("xs.filter(x, x > 1).map(x, x * 2).exists(x, x == 4)") is None
    assert code_of("xs.exists(x, x.ys.all(y, y.zs.exists_one(z, z > 0)))") == "JF407"
    # a function named like a macro but not called as one is no comprehension
    assert code_of("map(1, map(2, map(3, 4)))") is None


def test_an_unterminated_string_or_stray_bracket_is_left_to_the_parser() -> None:
    assert code_of('"abc') is None
    assert code_of(")))") is None


@pytest.mark.parametrize(("after", "code"), [("3650d", None), ("521w", None), ("3651d", "JF208")])
def test_durations_up_to_ten_years(after: str, code: str | None) -> None:
    problems = validate_text(MINIMAL.replace("after: 2d", f"after: {after}"))
    assert [p.code for p in problems if p.severity == "error"] == ([code] if code else [])


def test_names_up_to_the_column_width() -> None:
    ok = MINIMAL.replace("journey: minimal", "journey: " + "a" * 100)
    assert validate_text(ok) == []
    long = MINIMAL.replace("journey: minimal", "journey: " + "a" * 101)
    assert [(p.code, p.line) for p in validate_text(long)] == [("JF209", 1)]


def test_comprehensions_over_long_lists_are_refused_before_they_start() -> None:
    from datetime import datetime, timezone

    from journeyflow.definition.cel import Scope, compile_expression
    from journeyflow.exceptions import ExpressionError

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    mapped = compile_expression("event.xs.map(x, x + 1).size() > 0")
    assert mapped.evaluate(Scope(now, event={"xs": list(range(500))})) is True
    # a map over 16,000 items took 38 s inside the CEL library, where nothing stops it
    with pytest.raises(ExpressionError, match=r"not run: .* 16000 items .* more than 1,000,000"):
        mapped.evaluate(Scope(now, event={"xs": list(range(16_000))}))
    # exists stops at the first hit and builds nothing: linear, so long lists are fine
    found = compile_expression("event.xs.exists(x, x == 3)")
    assert found.evaluate(Scope(now, event={"xs": list(range(16_000))})) is True
    nested = compile_expression("event.xs.exists(x, event.xs.exists(y, x + y < 0))")
    assert nested.evaluate(Scope(now, event={"xs": list(range(300))})) is False
    with pytest.raises(ExpressionError, match="not run"):
        nested.evaluate(Scope(now, event={"xs": list(range(1001))}))
    # the customer's data counts too, nested anywhere
    deep = compile_expression("customer.a.b.map(x, x).size() > 0")
    with pytest.raises(ExpressionError, match="not run"):
        deep.evaluate(Scope(now, customer={"a": {"b": [[0] * 2000]}}))
