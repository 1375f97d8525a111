"""`journeyflow test`: run the journey tests of journey files and `*.test.yaml` files.

Output follows pytest: a line per test, then the failure reports, then the
summary line `N passed, N failed` (`, N errors` when some test could not run
or some file could not be loaded). Exit codes: 0 all passed, 1 a failure or an
error (or coverage under `--fail-under`), 5 no tests collected.
"""

from __future__ import annotations

from pathlib import Path

import click

from journeyflow.commands._common import plugin_registry
from journeyflow.testing.journeytest import (
    CaseResult,
    coverage,
    format_coverage,
    junit_xml,
    run,
    total_percent,
)

NO_TESTS = 5  # as pytest: nothing was collected


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "-k",
    "keyword",
    metavar="TEXT",
    help="Only tests whose id (`path::name`) contains TEXT, ignoring case.",
)
@click.option(
    "--with-all",
    is_flag=True,
    help="Load every journey of the PATHs in each test (for journeys that react "
    "to each other's `emit:`), not only the journey under test.",
)
@click.option(
    "--junit-xml",
    "junit_path",
    type=click.Path(dir_okay=False),
    help="Also write the results as JUnit XML to this file.",
)
@click.option(
    "--coverage",
    "with_coverage",
    is_flag=True,
    help="Report, per journey, the states and transitions its tests never "
    "exercised, and a percentage.",
)
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    metavar="PERCENT",
    help="With --coverage (implied): exit 1 when the total coverage is lower.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail a test whose run wrote an `error` row to a customer's history (a "
    "guard, `at:` or computed value that failed at run time).",
)
@click.option(
    "--trace",
    is_flag=True,
    help="Print each passing test's timeline: events, transitions, sends and tasks, "
    "with their virtual times.",
)
def command(
    paths: tuple[str, ...],
    keyword: str | None,
    with_all: bool,
    junit_path: str | None,
    with_coverage: bool,
    fail_under: float | None,
    strict: bool,
    trace: bool,
) -> None:
    """Run the `tests:` of journey files and of `*.test.yaml` files.

    PATHs are journey files, `*.test.yaml` files or folders (searched
    recursively); default: ./journeys. A `*.test.yaml` file holds
    `journey: <id>` and `tests: [...]` for a journey among the PATHs (or next
    to the test file). Each test starts from an empty in-memory store, with only
    its own journey loaded unless --with-all, on a virtual clock that starts at
    the test's `start:`, else its first event's timestamp, else
    2026-01-01T00:00:00Z. docs/testing.md describes every step and expectation.
    """
    if not paths:
        if not Path("journeys").is_dir():
            raise click.UsageError("no ./journeys folder here: give journey files or folders")
        paths = ("journeys",)
    with_coverage = with_coverage or fail_under is not None

    def show(result: CaseResult) -> None:
        click.echo(f"{_WORD[result.outcome]} {result.nodeid}")
        for line in result.timeline:
            click.echo(f"    {line}")

    functions = plugin_registry().functions()  # CEL functions of the installed plugins
    session = run(
        list(paths),
        with_all=with_all,
        keyword=keyword,
        coverage=with_coverage,
        functions=functions,
        on_result=show,
        strict=strict,
        trace=trace,
    )
    for err in session.errors:
        click.echo(f"ERROR {err.path}")
    reports = [r.message for r in session.results if r.outcome != "passed"]
    reports += [e.message for e in session.errors]
    if reports:
        click.echo("\n" + "=" * 30 + " failures and errors " + "=" * 30)
        for text in reports:
            click.echo("\n" + text)
    covered_ok = True
    if with_coverage:
        report = coverage(session)
        click.echo("\n" + format_coverage(report))
        if fail_under is not None and total_percent(report) < fail_under:
            covered_ok = False
            click.echo(
                f"coverage {total_percent(report):.1f}% is under --fail-under {fail_under:g}%"
            )
    if junit_path is not None:
        Path(junit_path).write_bytes(junit_xml(session))
    tests = len(session.results)
    click.echo(f"\nran {tests} journey test{'s' if tests != 1 else ''} in {session.duration:.2f}s")
    click.echo(session.summary())
    if not session.ok or not covered_ok:
        raise SystemExit(1)
    if not session.results:
        raise SystemExit(NO_TESTS)


_WORD = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}
