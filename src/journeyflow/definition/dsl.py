"""What a journey *is*: pydantic models of the journey YAML (language v1.1).

Definitions only; nothing runs here. The loader (`loader.py`) builds these from
YAML and maps every validation error back to file:line:col; the static checks
(`checks.py`) look at the whole graph; the engine runs them.
"""

from __future__ import annotations

from datetime import timedelta
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
from journeyflow.definition.testspec import (
    AdvanceStep,
    AdvanceToStep,
    EventStep,
    Expectation,
    ExpectStep,
    IdentifyStep,
    IdentifyStepWrapper,
    JourneyTest,
    ReplayStep,
    SentMessage,
    Step,
    TaskExpectation,
)
from journeyflow.exceptions import DurationError

__all__ = [  # the test models, re-exported (see "tests" below)
    "AdvanceStep",
    "AdvanceToStep",
    "EventStep",
    "ExpectStep",
    "Expectation",
    "IdentifyStep",
    "IdentifyStepWrapper",
    "JourneyTest",
    "ReplayStep",
    "SentMessage",
    "Step",
    "TaskExpectation",
]

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
STATE_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"


class Model(BaseModel):
    """Base for every journey model: unknown fields are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_duration(value: str) -> str:
    try:
        parse_duration(value)
    except DurationError as exc:  # pydantic reports ValueErrors only; others escape
        raise ValueError(str(exc)) from exc
    except OverflowError as exc:  # `99999999999w`: more than a timedelta holds
        raise ValueError(
            f"{value!r} is longer than any timer can wait: write a shorter duration"
        ) from exc
    return value


def _as_list(value: Any) -> Any:
    """Accept `on: order_completed` as well as `on: [order_completed]`."""
    return [value] if isinstance(value, str) else value


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(description="`30m`, `2h`, `14d`, `2w` or ISO-8601 (`P14D`, `PT2H`)"),
]
Cel = Annotated[str, Field(description="a CEL expression", min_length=1)]
EventNames = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list)]
StateName = Annotated[str, Field(pattern=STATE_NAME)]


# --- actions -----------------------------------------------------------------

ActionGuard = Annotated[
    Cel | None,
    Field(
        description="CEL guard of this action alone: false (or an error) skips it, "
        "the other actions still run"
    ),
]


class SendAction(Model):
    """Queue a message on a channel (a plugin) through the outbox."""

    when: ActionGuard = None
    send: str = Field(description="channel name, e.g. email, sms, webhook, console")
    template: str | None = Field(None, description="template name, resolved by the channel")
    data: dict[str, Any] = Field(
        default_factory=dict, description="passed to the template; values starting with `=` are CEL"
    )


class SetAction(Model):
    """Update customer attributes; a string value starting with `=` is CEL."""

    when: ActionGuard = None
    set: dict[str, Any] = Field(min_length=1)


class VarsAction(Model):
    """Set enrolment variables (`enrolment.vars`); a string value starting with
    `=` is CEL. They live and end with the enrolment."""

    when: ActionGuard = None
    vars: dict[str, Any] = Field(
        min_length=1, description="name -> value; values starting with `=` are CEL"
    )


class EmitAction(Model):
    """Raise an internal event that every loaded journey (this one too) receives."""

    when: ActionGuard = None
    emit: str = Field(min_length=1)
    properties: dict[str, Any] = Field(default_factory=dict)


class TaskSpec(Model):
    """A to-do for a person; defaults to the state's owner."""

    title: str = Field(min_length=1)
    owner: str | None = None
    description: str | None = None
    due: Duration | None = Field(None, description="how long the person has")


class TaskAction(Model):
    """Create a task for a person (delivered through the `task` channel)."""

    when: ActionGuard = None
    task: TaskSpec


ACTION_KINDS = ("send", "set", "vars", "emit", "task")


def _action_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        for kind in ACTION_KINDS:
            if kind in value:
                return kind
        return None
    if isinstance(value, BaseModel):
        return {
            SendAction: "send",
            SetAction: "set",
            VarsAction: "vars",
            EmitAction: "emit",
            TaskAction: "task",
        }.get(type(value))
    return None


Action = Annotated[
    Union[
        Annotated[SendAction, Tag("send")],
        Annotated[SetAction, Tag("set")],
        Annotated[VarsAction, Tag("vars")],
        Annotated[EmitAction, Tag("emit")],
        Annotated[TaskAction, Tag("task")],
    ],
    Discriminator(
        _action_kind,
        custom_error_type="action_kind",
        custom_error_message="an action needs exactly one of send, set, vars, emit, task",
    ),
]


# --- transitions -------------------------------------------------------------


class SplitBranch(Model):
    to: StateName
    weight: int = Field(description="integer percentage; the branches sum to 100")


class Transition(Model):
    """One way out of a state. Exactly one trigger: `on`, `after`, `at` or `split`
    (checked by `checks.py` so the message can name the line)."""

    on: str | None = Field(None, description="event name that triggers this transition")
    after: Duration | None = Field(None, description="timer, counted from entering the state")
    at: Cel | None = Field(None, description="CEL timestamp computed on entry")
    split: list[SplitBranch] | None = Field(None, description="weighted branches taken on entry")
    to: StateName | None = None
    when: Cel | None = Field(None, description="CEL guard; the first matching transition wins")
    internal: bool = Field(False, description="self-transition without exit/enter")
    actions: list[Action] = Field(default_factory=list)

    @property
    def triggers(self) -> list[str]:
        return [t for t in ("on", "after", "at", "split") if getattr(self, t) is not None]

    @property
    def trigger(self) -> str:
        found = self.triggers
        return found[0] if found else "none"

    @property
    def after_delta(self) -> timedelta | None:
        return parse_duration(self.after) if self.after is not None else None

    @property
    def targets(self) -> list[str]:
        if self.split is not None:
            return [b.to for b in self.split]
        return [self.to] if self.to is not None else []


class ChecklistItem(Model):
    """A question answered on the way (an audit, a kick-off or a survey question);
    the answer is stored as the customer attribute `field` by an identify call or
    a `set` action."""

    field: str = Field(min_length=1)
    question: str
    options: list[str] | None = None


class State(Model):
    """A state: what happens on entry/exit, the ways out, and business metadata."""

    stage: str | None = None
    owner: str | None = None
    description: str | None = None
    touchpoints: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    pain_points: list[str] = Field(default_factory=list)
    motivations: list[str] = Field(default_factory=list)
    customer_actions: list[str] = Field(default_factory=list)
    kpis: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(default_factory=list)
    on_enter: list[Action] = Field(default_factory=list)
    on_exit: list[Action] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    final: bool = False


# --- entry and exit ----------------------------------------------------------


class Entry(Model):
    """How a customer enters: on event(s) and/or on entering a segment."""

    on: EventNames = Field(default_factory=list, description="`identify` or track event names")
    segment: str | None = Field(None, description="`segmenter:segment`, e.g. rfm:at_risk")
    when: Cel | None = None
    reentry: Literal["never", "after_exit", "always"] = "never"
    key: Cel | None = Field(None, description="CEL on the entry event: one enrolment per key")


class ExitRule(Model):
    """Checked on every event before state transitions, in any state."""

    on: EventNames = Field(min_length=1)
    when: Cel | None = None
    goal: bool = Field(False, description="true: the exit is a conversion")


# --- tests -------------------------------------------------------------------
# A journey file's `tests:` hold the same tests as a `*.test.yaml` file: their
# models live in `testspec.py` (the test format grows on its own) and are
# re-exported here for the code that reads a journey's tests.


class Migration(Model):
    from_version: int = Field(ge=1)
    states: dict[str, str] = Field(default_factory=dict, description="old state -> new state")


# --- the journey -------------------------------------------------------------


class Journey(Model):
    """A journey file."""

    schema_: str | None = Field(None, alias="$schema", description="JSON Schema of this file")
    journey: str = Field(pattern=SLUG, description="id: lowercase slug, unique")
    version: int = Field(ge=1, description="bump on every change")
    title: str | None = None
    description: str | None = None
    vertical: str | None = None
    stages: list[str] = Field(default_factory=list)
    kpis: list[str] = Field(default_factory=list)
    timezone: str | None = Field(None, description="IANA zone; default UTC")
    objective: str | None = Field(
        None, description="what the journey is for (its business objective)"
    )
    persona: str | None = Field(None, description="who the journey is for (a persona or segment)")
    entry: Entry
    initial: str
    states: dict[Annotated[str, Field(pattern=STATE_NAME)], State] = Field(min_length=1)
    exit: list[ExitRule] = Field(default_factory=list)
    holdout: int = Field(0, ge=0, le=100, description="% of entrants kept as a control group")
    tests: list[JourneyTest] = Field(default_factory=list)
    migrations: list[Migration] = Field(default_factory=list)

    def stage_of(self, state: str) -> str | None:
        st = self.states.get(state)
        return st.stage if st else None
