"""Numbers and durations on the command line are checked by click: a count of
zero or less, a negative offset, a cadence of zero is a usage error (exit 2,
click's message naming the option), never a silent no-op or a traceback."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from journeyflow.cli import main

# Options any integer suits: a random seed is as good negative as positive.
ANY_INTEGER = {("demo", "seed")}
# Options any integer suits are listed above; every other one takes a range.
NOT_HERE: set[str] = set()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        found.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, f"{prefix}{name} "))
    return found


def test_every_integer_option_says_which_integers_it_takes() -> None:
    plain = [
        (name, p.name)
        for name, cmd in _commands(main)
        if name.split()[0] not in NOT_HERE
        for p in cmd.params
        if isinstance(p, click.Option)
        and isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))
        and not isinstance(p.type, (click.IntRange, click.FloatRange))
        and (name, p.name) not in ANY_INTEGER
    ]
    assert plain == []


@pytest.mark.parametrize(
    ("args", "option", "says"),
    [
        (["tasks", "--limit", "0"], "--limit", "0 is not in the range x>=1"),
        (["tasks", "--limit", "-5"], "--limit", "-5 is not in the range x>=1"),
        (["tasks", "--offset", "-1"], "--offset", "-1 is not in the range x>=0"),
        (["tasks", "--limit", "ten"], "--limit", "'ten' is not a valid integer"),
        (["demo", "--customers", "0"], "--customers", "0 is not in the range x>=1"),
        (["demo", "--days", "-5"], "--days", "-5 is not in the range x>=1"),
        (["segment", "rfm", "--every", "0d"], "--every", "'0d' is not longer than zero"),
        (["segment", "rfm", "--every", "PT0S"], "--every", "'PT0S' is not longer than zero"),
        (["segment", "rfm", "--every", "-1h"], "--every", "is not a duration"),
        (["segment", "rfm", "--every", "1d", "--times", "0"], "--times", "0 is not in the range"),
        (["test", "--fail-under", "101"], "--fail-under", "101.0 is not in the range 0<=x<=100"),
        (["ingest", "-", "--batch-size", "0"], "--batch-size", "0 is not in the range x>=1"),
        (["deliver", "--limit", "0"], "--limit", "0 is not in the range x>=1"),
        (["deliver", "--max-attempts", "-1"], "--max-attempts", "-1 is not in the range x>=1"),
        (["deliver", "--lease", "0"], "--lease", "0.0 is not in the range x>0"),
    ],
)
def test_a_number_out_of_range_is_a_usage_error(args: list[str], option: str, says: str) -> None:
    result = CliRunner().invoke(main, args)  # refused while parsing: nothing is opened
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
    assert says in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_valid_cadence_still_runs() -> None:
    result = CliRunner().invoke(
        main, ["segment", "rfm", "--every", "PT1H", "--times", "1", "--database", "memory://"]
    )
    assert result.exit_code == 0, result.output
    assert "rfm at" in result.output
