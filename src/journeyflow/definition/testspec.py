"""What a journey test *is*: pydantic models of a `tests:` entry (contract v1.1).

A journey file's `tests:` and a `*.test.yaml` file hold the same tests; both
are validated with these models when they are read, so a malformed step is a
load error at its line, never a surprise half-way through a run. Running
them is `testing/journeytest`'s job.

Kept apart from `dsl.py` (which describes the journey itself) because the
test format grows on its own: v1.1 added `tasks:`, `data:` in a sent item,
any scalar `key:` and the `replay:` step. This module imports nothing from
`dsl.py`, so `dsl.py` can import `JourneyTest` from here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
)

from journeyflow.definition.durations import parse_duration
from journeyflow.exceptions import DurationError

REPLAY_SUFFIXES = (".jsonl", ".jsonl.gz")
STEP_KINDS = ("event", "identify", "advance", "advance_to", "replay", "expect")


class TestModel(BaseModel):
    """Base of the test models: unknown fields are errors, values immutable."""

    __test__ = False  # not a pytest test class, whatever its name says
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_duration(value: str) -> str:
    try:
        parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from exc
    except OverflowError as exc:
        raise ValueError(f"{value!r} is longer than a test can advance") from exc
    return value


def key_text(value: Any) -> str | None:
    """A key as the engine stores it: its text form (`1` and `"1"` are one key)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, date)):
        return str(value)
    raise ValueError(f"a key is one value (text, a number, true/false), not {type(value).__name__}")


def _check_replay(value: str) -> str:
    if not value.strip():
        raise ValueError("name a JSON-lines file: `replay: events.jsonl`")
    if not value.endswith(REPLAY_SUFFIXES):
        raise ValueError(
            f"{value!r} is not a JSON-lines file: a replay reads `.jsonl` or `.jsonl.gz` "
            "(one Segment event per line)"
        )
    return value


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(description="`30m`, `2h`, `14d`, `2w` or ISO-8601 (`P14D`, `PT2H`)"),
]
Key = Annotated[
    str | None,
    BeforeValidator(key_text),
    Field(
        description="the enrolment of a keyed journey: any scalar, compared by its text "
        'form (`key: 1` and `key: "1"` are the same)'
    ),
]


# --- expectations --------------------------------------------------------------


class SentMessage(TestModel):
    """A message sent to the customer (any channel but `task`)."""

    channel: str = Field(min_length=1, description="channel name: email, sms, webhook...")
    template: str | None = Field(None, description="left out: any template of the channel")
    data: dict[str, Any] | None = Field(
        None, description="these fields of the send's data, with these values (others allowed)"
    )


class TaskExpectation(TestModel):
    """A task (a to-do for a person of the company); names only the fields it checks."""

    title: str | None = None
    owner: str | None = None
    description: str | None = None
    due: str | None = Field(None, description="the task's `due:` as written")
    state: str | None = Field(None, description="the state whose action created it")


class Expectation(TestModel):
    customer: str = Field(min_length=1)
    key: Key = None
    state: str | None = None
    stage: str | None = None
    status: Literal["active", "completed", "exited", "converted"] | None = None
    sent: list[SentMessage] | None = Field(
        None, description="every message sent to the customer so far, exactly, in order"
    )
    sent_include: list[SentMessage] | None = Field(
        None, description="these messages in this order, others allowed between"
    )
    not_sent: list[SentMessage] | None = Field(None, description="none of these was sent")
    tasks: list[TaskExpectation] | None = Field(
        None, description="every task created for the customer so far, exactly, in order"
    )
    attributes: dict[str, Any] | None = None
    in_holdout: bool | None = None
    enrolled: bool | None = None


# --- steps ---------------------------------------------------------------------


class IdentifyStep(TestModel):
    userId: str = Field(min_length=1)
    traits: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    messageId: str | None = None


class EventStep(TestModel):
    event: dict[str, Any]


class IdentifyStepWrapper(TestModel):
    identify: IdentifyStep


class AdvanceStep(TestModel):
    advance: Duration


class AdvanceToStep(TestModel):
    advance_to: datetime


class ReplayStep(TestModel):
    replay: Annotated[
        str,
        AfterValidator(_check_replay),
        Field(
            description="a JSON-lines file of Segment events (`.jsonl` or `.jsonl.gz`), "
            "relative to the file holding the test; each line is applied as an `event:` step"
        ),
    ]


class ExpectStep(TestModel):
    expect: Expectation


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [k for k in STEP_KINDS if k in value]
        return present[0] if len(present) == 1 else None
    for k in STEP_KINDS:
        if hasattr(value, k):
            return k
    return None


Step = Annotated[
    Union[  # noqa: UP007 (spelt as dsl.py spells its tagged unions)
        Annotated[EventStep, Tag("event")],
        Annotated[IdentifyStepWrapper, Tag("identify")],
        Annotated[AdvanceStep, Tag("advance")],
        Annotated[AdvanceToStep, Tag("advance_to")],
        Annotated[ReplayStep, Tag("replay")],
        Annotated[ExpectStep, Tag("expect")],
    ],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a test step needs exactly one of event, identify, advance, "
        "advance_to, replay, expect",
    ),
]


class JourneyTest(TestModel):
    name: str = Field(min_length=1)
    start: datetime | None = None
    steps: list[Step] = Field(min_length=1)
