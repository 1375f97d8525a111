"""Journey tests: the `tests:` of journey files, run on a virtual clock.

Used by `journeyflow test` (`commands/test.py`) and by the pytest plugin
(`testing/pytest_plugin.py`); both print the same failure report.

Where tests come from
    Every journey file's `tests:` section, and standalone test files named
    `*.test.yaml` (or `*.test.yml`) that hold tests for a journey kept elsewhere::

        journey: crm-welcome        # the id of a journey among the loaded paths
        tests:                      # the same test format as a journey's `tests:`
          - name: ...
            start: '2026-03-01T00:00:00Z'   # optional
            steps: [...]

    The journey a test file names is looked up among the journey files of the
    paths given (folders are searched recursively), then among the journey
    files next to the test file.

How a test runs (docs/testing.md is the reference for authors)
    Each test starts from an empty in-memory store with only its own journey
    loaded (`with_all=True`, `--with-all` on the command line, loads every
    journey of the paths instead, for journeys that react to each other's
    `emit:`), on a virtual clock that starts at the test's `start:`, else at
    its first event's timestamp (a `replay:` file's first line counts), else
    at 2026-01-01T00:00:00Z. The steps (`definition/testspec.py` models them):

    - `event: {...}` — a Segment-style call (`type` defaults to `track`). It
      happens at its `timestamp`, or at the virtual now when it has none. A
      later timestamp first moves the clock there, firing every timer due
      *before* that moment (each at its own due time); the event is then
      applied, and then the timers due at that very moment (on the same
      instant, events go before timers). A timestamp earlier than the virtual
      now is an error: tests only move time forward. Without a `messageId`
      each step gets its own, so two identical steps are both applied; give the
      same `messageId` twice to test that a repeated event is ignored.
    - `identify: {userId, traits, timestamp?, messageId?}` — an identify call.
    - `advance: 7d` — move the clock on by a duration, firing every timer due
      up to and including the new now.
    - `advance_to: <datetime>` — the same, to a moment (not in the past).
    - `replay: FILE` — every event of a JSON-lines file (`.jsonl`, `.jsonl.gz`,
      relative to the test's file), exactly as that many `event:` steps,
      streamed (`replay.py`).
    - `expect: {customer: ..., ...}` — check where the customer stands:
      `state`, `status` and `stage` of the customer's latest enrolment in the
      journey under test (the one with `key:`, any scalar compared by its
      text, in a keyed journey); `sent`, every message sent to the customer so
      far (every channel but `task`), exactly, in the outbox's order, each
      item's `template` and `data` fields checked when given (holdout sends
      are suppressed, so they are not "sent"); `sent_include`, these sends in
      this order, others allowed between; `not_sent`, none of these; `tasks`,
      the tasks created so far, exactly, each item checking the fields it
      names; `attributes`, these customer attributes with these values
      (others allowed); `in_holdout`; `enrolled` (false: no enrolment at all).

    `strict=True` (`--strict`) fails a test whose run wrote an `error` row to
    a history; `trace=True` (`--trace`) keeps a passing test's timeline
    (`timeline.py`).

    Journeys are loaded without checking channel, segment, KPI and vertical
    names against the installed plugins (`journeyflow validate` does that):
    a test exercises the journey's logic, and nothing is dispatched. The
    plugins' CEL functions are available when the caller passes them (the
    command line and the pytest plugin do).

    A failing `expect` stops the test; the report names the test, the step
    number and its line, expected against actual, the enrolment's pending
    timers and the customer's history. A test that cannot run (an event the
    engine rejects, time going backwards, an engine exception) is an error.
"""

# One module a job, in the order they depend on each other: collecting (files
# into cases), formatting (the text of the reports), compare (expected against
# actual), timeline (--trace and --strict's listings), replay (JSON-lines
# files as event steps), running (one case on a virtual clock), session (many
# cases, coverage, JUnit XML). Callers import from here, not from the modules.

from journeyflow.testing.journeytest.collecting import (
    TEST_SUFFIXES,
    Collected,
    CollectError,
    JourneyCase,
    JourneyTestError,
    JourneyTestFile,
    collect,
    is_test_file,
    load_journeys,
    load_test_file,
    read_test_file,
)
from journeyflow.testing.journeytest.running import DEFAULT_START, CaseResult, Outcome, run_case
from journeyflow.testing.journeytest.session import (
    JourneyCoverage,
    Session,
    coverage,
    format_coverage,
    junit_xml,
    run,
    total_percent,
)

__all__ = [
    "DEFAULT_START",
    "TEST_SUFFIXES",
    "CaseResult",
    "CollectError",
    "Collected",
    "JourneyCase",
    "JourneyCoverage",
    "JourneyTestError",
    "JourneyTestFile",
    "Outcome",
    "Session",
    "collect",
    "coverage",
    "format_coverage",
    "is_test_file",
    "junit_xml",
    "load_journeys",
    "load_test_file",
    "read_test_file",
    "run",
    "run_case",
    "total_percent",
]
