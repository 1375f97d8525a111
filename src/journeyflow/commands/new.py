"""`journeyflow new NAME`: write a commented starter journey to begin from.

A newcomer's first file should already be right: it validates with
`--strict`, its one test passes, and its first line points the editor at the
JSON Schema, so completion, hover text and diagnostics work from the first
keystroke. The comments say what each field is for and where the reference
is (docs/reference.md), so the file teaches the language as it is edited.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

from journeyflow.definition.dsl import SLUG
from journeyflow.definition.limits import MAX_NAME_CHARS
from journeyflow.definition.schema import DEFAULT_SCHEMA_PATH, write_schema
from journeyflow.exceptions import JourneyflowError

DEFAULT_FOLDER = "journeys"

# Text YAML 1.2 would read as something else (`123`, `1e3`, `null`, `True`)
# is written quoted.
_PLAIN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9 -]*")
_NOT_TEXT = frozenset({"null", "true", "false"})


@click.command("new")
@click.argument("name")
@click.option(
    "--to",
    "folder",
    default=DEFAULT_FOLDER,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write NAME.yaml into (created if missing).",
)
def command(name: str, folder: Path) -> None:
    """Write a commented starter journey NAME.yaml with one passing test."""
    check_name(name)
    path = folder / f"{name}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    modeline, wrote_schema = schema_reference(folder)
    try:
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(starter(name, modeline))
    except FileExistsError:
        raise JourneyflowError(
            f"{path} already exists: choose another name, or remove the file first"
        ) from None
    if wrote_schema is not None:
        click.echo(f"wrote {wrote_schema} (the journey schema, for editors)")
    click.echo(f"wrote {path}")
    click.echo(f"next: journeyflow validate --strict {path} && journeyflow test {path}")


def check_name(name: str) -> None:
    """Refuse a NAME that is not a journey id, in one line."""
    if not re.fullmatch(SLUG, name):
        raise JourneyflowError(
            f"{name!r} is not a journey id: use lowercase letters and digits in words "
            "joined by single hyphens, e.g. abandoned-cart"
        )
    if len(name) > MAX_NAME_CHARS:
        raise JourneyflowError(
            f"a journey id is at most {MAX_NAME_CHARS} characters; {name[:20]}... has {len(name)}"
        )


def schema_reference(folder: Path) -> tuple[str, Path | None]:
    """Where the journey's modeline points, and the schema file written, if any.

    The nearest `schemas/journey.schema.json` at or above `folder` is named by
    a path relative to it (as the bundled journeys do), so the project stays
    movable. Without one, the installed journeyflow's schema is written where
    `journeyflow schema` writes it (`schemas/` in the current folder).
    """
    start = folder.resolve()
    for parent in (start, *start.parents):
        candidate = parent / DEFAULT_SCHEMA_PATH
        if candidate.is_file():
            return _relative(candidate, start), None
    written = write_schema(DEFAULT_SCHEMA_PATH)
    return _relative(written.resolve(), start), written


def _relative(schema: Path, folder: Path) -> str:
    return Path(os.path.relpath(schema, folder)).as_posix()


def _yaml_text(value: str) -> str:
    if _PLAIN_TEXT.fullmatch(value) and value.lower() not in _NOT_TEXT:
        return value
    return json.dumps(value)


def starter(name: str, schema: str) -> str:
    """The text of the starter journey `name` whose modeline names `schema`."""
    title = name.replace("-", " ").capitalize()
    return _STARTER.format(schema=schema, id=_yaml_text(name), title=_yaml_text(title))


_STARTER = """\
# yaml-language-server: $schema={schema}
#
# A starter journey written by `journeyflow new`: a welcome for new sign-ups,
# a nudge three days later if they have not ordered, and a test that shows it.
# Every field is described in docs/reference.md; with the line above, editors
# that use yaml-language-server complete fields and explain them on hover.
#
#   journeyflow validate --strict THIS_FILE     the static checks
#   journeyflow test THIS_FILE                  the tests at the bottom
#   journeyflow graph THIS_FILE                 a diagram (Mermaid)

journey: {id}              # the id: lowercase words joined by hyphens, unique
version: 1                 # bump on every change to this file
title: {title}
description: What this journey is for, in a sentence.

entry:                     # how a customer enters
  on: [signed_up]          # the track event(s) that enrol a customer
  reentry: never           # never | after_exit | always

initial: welcome           # the state a new enrolment starts in

states:
  welcome:
    description: Just signed up.
    on_enter:              # actions, in order, each time the state is entered
      - send: email        # a channel; the message goes through the outbox
        template: welcome
        data: {{signed_up_at: '=trigger.timestamp'}}   # `=` makes the value CEL
    transitions:           # the first that matches wins
      - after: 3d          # a timer, counted from entering the state
        to: nudge

  nudge:
    description: Three days in, no order yet.
    on_enter:
      - send: email
        template: first-order-nudge
        when: 'has(customer.email)'   # a condition on this action alone
    transitions:
      - after: 7d
        to: done

  done:
    final: true            # the enrolment completes here

exit:                      # checked on every event, in any state
  - on: order_completed
    goal: true             # a conversion in reports
  - on: unsubscribed

tests:                     # run by `journeyflow test`, on a virtual clock
  - name: a sign-up who never orders is welcomed, then nudged once
    steps:
      - event: {{type: identify, userId: c1, traits: {{email: c1@example.com}},
                timestamp: '2026-01-05T09:00:00Z'}}
      - event: {{type: track, userId: c1, event: signed_up,
                timestamp: '2026-01-05T09:00:00Z'}}
      - expect: {{customer: c1, state: welcome, sent: [{{channel: email, template: welcome}}]}}
      - advance: 3d
      - expect:
          customer: c1
          state: nudge
          sent:
            - {{channel: email, template: welcome}}
            - {{channel: email, template: first-order-nudge}}
      - advance: 7d
      - expect: {{customer: c1, status: completed}}
"""
