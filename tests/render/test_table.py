"""The customer-path table: one row per state, in the customer's order,
readable back by the csv module and html.parser, with Markdown cells intact."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.definition.dsl import Journey
from journeyflow.definition.loader import load_file
from journeyflow.render.table import (
    COLUMNS,
    PathRow,
    customer_path,
    describe_action,
    describe_transition,
    entry_text,
    exit_rules,
    render_csv,
    render_html,
    render_markdown,
    render_table,
    state_order,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "render"
FILES = sorted((ROOT / "journeys").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))
IDS = [str(p.relative_to(ROOT)) for p in FILES]


def _journey(path: Path) -> Journey:
    return load_file(path).journey


def _joined(row: PathRow) -> list[str]:
    return [c if isinstance(c, str) else "\n".join(c) for c in row.cells()]


# --- order and words ---------------------------------------------------------------


def test_columns_match_the_row() -> None:
    row = customer_path(_journey(FIXTURES / "reactivation.yaml"))[0]
    assert len(row.cells()) == len(COLUMNS)
    assert COLUMNS[:4] == ("Stage", "State", "Description", "What we do")
    assert COLUMNS[-1] == "Ways out"


def test_rows_follow_the_customer_breadth_first() -> None:
    assert state_order(_journey(FIXTURES / "reactivation.yaml")) == [
        "active", "inactivating", "inactive", "offer_a", "offer_b", "churned",
    ]  # fmt: skip
    assert state_order(_journey(FIXTURES / "wedding-salon.yaml")) == [
        "searching", "on-site", "lost", "fittings", "cart-abandoned", "appointment",
        "after-wedding", "not-signed", "done",
    ]  # fmt: skip


def test_unreachable_states_come_last_in_file_order() -> None:
    """The loader refuses unreachable states; the table of such a journey
    (built from the models directly) still lists every state."""
    journey = Journey.model_validate(
        {
            "journey": "t",
            "version": 1,
            "entry": {"on": "x"},
            "initial": "b",
            "states": {
                "z": {"final": True},
                "a": {"final": True},
                "b": {"transitions": [{"after": "1d", "to": "c"}]},
                "c": {"final": True},
            },
        }
    )
    assert state_order(journey) == ["b", "c", "z", "a"]


def test_actions_and_ways_out_in_plain_words() -> None:
    rows = {r.state: r for r in customer_path(_journey(FIXTURES / "reactivation.yaml"))}
    assert rows["active"].what_we_do == (
        "send email 'thanks'",
        "set last_offer",
        "emit became_active",
        "task for sales: Call the customer",
    )
    assert rows["inactivating"].what_we_do == ("send email 'offer-120'",)
    assert rows["active"].ways_out == (
        "on order_completed when event.properties.total > 0 → active",
        "after 120d → inactivating",
    )
    assert rows["inactivating"].ways_out[1] == "at month_end(now) → inactive"
    assert rows["inactive"].ways_out == ("split: 50% → offer_a, 50% → offer_b",)
    assert rows["churned"].ways_out == ("end of the journey",)
    assert rows["active"].owner == "crm-team"
    assert rows["active"].kpis == ("orders_per_customer",)
    assert rows["inactivating"].stage == "at-risk"


def test_tasks_default_to_the_state_owner_and_show_due() -> None:
    journey = _journey(FIXTURES / "wedding-salon.yaml")
    rows = {r.state: r for r in customer_path(journey)}
    assert "task for consultant: Prepare three dresses in her size (within 1d)" in (
        rows["appointment"].what_we_do
    )
    assert rows["not-signed"].what_we_do == (
        "set not_signed_reason",
        "task for salon-manager: Follow up on the reason",
    )
    state = journey.states["appointment"]
    assert describe_action(state.on_enter[1]) == "send sms 'appointment-confirmation'"


def test_internal_transitions_and_their_actions() -> None:
    state = _journey(FIXTURES / "tricky-text.yaml").states["start"]
    assert describe_transition(state.transitions[1]) == "on ping → stay (internal), then emit pong"
    assert describe_action(state.on_enter[0]) == "send webhook"


def test_entry_and_exit_rules() -> None:
    journey = _journey(FIXTURES / "reactivation.yaml")
    assert entry_text(journey) == 'on order_completed when customer.email != "" → active'
    assert exit_rules(journey) == [
        "on unsubscribed → leaves the journey",
        "on order_completed when event.properties.total >= 100"
        " → goal reached (counts as a conversion)",
    ]
    tricky = _journey(FIXTURES / "tricky-text.yaml")
    assert entry_text(tricky) == "on form:submitted or on entering segment rfm:at_risk → start"


# --- CSV ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_csv_reads_back(path: Path) -> None:
    journey = _journey(path)
    text = render_csv(journey)
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert records[0] == list(COLUMNS)
    body = records[1:]
    assert len(body) == len(journey.states)
    assert all(len(r) == len(COLUMNS) for r in body)
    assert [r[1] for r in body] == state_order(journey)
    assert body[0][1] == journey.initial
    assert body == [_joined(row) for row in customer_path(journey)]


def test_csv_keeps_commas_quotes_and_newlines() -> None:
    text = render_csv(_journey(FIXTURES / "tricky-text.yaml"))
    rows = {r[1]: dict(zip(COLUMNS, r, strict=True)) for r in csv.reader(io.StringIO(text))}
    start = rows["start"]
    assert start["Owner"] == 'ops; "night" shift'
    assert start["Touchpoints"] == "a, b\nc"
    assert start["Description"].splitlines()[1].startswith("Line two | with a pipe <script>")
    assert text.endswith("\r\n")


# --- HTML --------------------------------------------------------------------------

_VOID = {"meta", "br", "hr", "img", "link", "input"}


class _Page(HTMLParser):
    """Checks nesting and collects rows, cells and the text of each cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.errors: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse_html(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_html_is_a_well_formed_standalone_page(path: Path) -> None:
    journey = _journey(path)
    text = render_html(journey)
    assert text.startswith("<!DOCTYPE html>")
    page = _parse_html(text)
    assert page.errors == [] and page.stack == []
    assert page.rows[0] == list(COLUMNS)
    assert len(page.rows) == 1 + len(journey.states)
    assert [r[1] for r in page.rows[1:]] == state_order(journey)
    assert all(len(r) == len(COLUMNS) for r in page.rows)
    assert "script" not in page.tags and "link" not in page.tags  # nothing runs, nothing loads


def test_html_escapes_a_script_in_a_description() -> None:
    text = render_html(_journey(FIXTURES / "tricky-text.yaml"))
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = _parse_html(text)
    start = next(r for r in page.rows if r[1] == "start")
    assert "Line two | with a pipe <script>alert(1)</script>" in start[2]
    assert "<title>Tricky: &quot;quotes&quot;;" in text


# --- Markdown ----------------------------------------------------------------------

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_markdown_has_one_row_per_state(path: Path) -> None:
    journey = _journey(path)
    lines = render_markdown(journey).splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| " + " | ".join(COLUMNS) + " |"
    assert set(table[1]) == {"|", "-"}
    assert len(table) == 2 + len(journey.states)
    for line in table:
        cells = _CELL_SPLIT.split(line)[1:-1]
        assert len(cells) == len(COLUMNS), line
    assert [_CELL_SPLIT.split(r)[2].strip() for r in table[2:]] == state_order(journey)


def test_markdown_escapes_pipes_newlines_and_tags() -> None:
    text = render_markdown(_journey(FIXTURES / "tricky-text.yaml"))
    row = next(line for line in text.splitlines() if line.startswith("| first stage | start |"))
    assert 'Line one: a "quoted" word; a #hash and [brackets].<br>Line two \\| with' in row
    assert "&lt;script>alert(1)&lt;/script>" in row
    assert "- on stop when" in text


# --- command ---------------------------------------------------------------------


def test_render_table_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown table format"):
        render_table(_journey(FIXTURES / "reactivation.yaml"), "xlsx")


@pytest.mark.parametrize("fmt", ["md", "csv", "html"])
def test_command_prints_and_writes(fmt: str, tmp_path: Path) -> None:
    source = FIXTURES / "wedding-salon.yaml"
    expected = render_table(_journey(source), fmt)
    runner = CliRunner()
    printed = runner.invoke(main, ["table", str(source), "--format", fmt])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout_bytes == expected.encode("utf-8")  # .output folds CRLF
    out = tmp_path / f"path.{fmt}"
    wrote = runner.invoke(main, ["table", str(source), "-f", fmt, "-o", str(out)])
    assert wrote.exit_code == 0, wrote.output
    assert out.read_bytes() == expected.encode("utf-8")


def test_command_default_is_markdown() -> None:
    result = CliRunner().invoke(main, ["table", str(FIXTURES / "reactivation.yaml")])
    assert result.exit_code == 0
    assert result.output.startswith("# Reactivation of lapsing customers")
