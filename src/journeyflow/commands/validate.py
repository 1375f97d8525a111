"""`journeyflow validate PATH...`: check journey files without running them.

One block per problem (`file:line:col: error JF123: message`, the source line
and a caret), then a summary. Exit 0 when there is no error (with `--strict`,
no warning either), else 1. Never a traceback: every user mistake is a
`Problem` by the time it gets here.

Names are checked against the installed plugins. A channel, segment, KPI or
vertical that no installed plugin registers is a *warning* here (naming the
registered ones: the journey may be meant for a machine with other plugins)
and an error only where the engine runs; CEL functions no plugin provides are
errors. `--no-plugins` checks against the first-party names only, as in an
editor or a CI job without plugins.
"""

from __future__ import annotations

import dataclasses
import json

import click

from journeyflow.definition.checks import KnownNames
from journeyflow.definition.loader import Analysis, analyse_paths, source_lines
from journeyflow.exceptions import JourneyflowError, Problem

MAX_PER_FILE = 10  # keep one broken file to about one screen


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--strict", is_flag=True, help="fail on warnings too")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools",
)
@click.option(
    "--plugins/--no-plugins",
    default=True,
    show_default=True,
    help="check channel, segment, KPI, vertical and CEL function names against "
    "the installed plugins, or against the first-party names only",
)
def command(paths: tuple[str, ...], strict: bool, fmt: str, plugins: bool) -> None:
    """Check journey files (folders: every *.yaml/*.yml except *.test.yaml)."""
    results = analyse_paths(paths, known=installed_names() if plugins else None)
    for r in results:
        r.problems = [_registry_warning(p) for p in r.problems]
    errors = sum(len(r.errors) for r in results)
    warnings = sum(len(r.warnings) for r in results)
    failed = not results or errors > 0 or (strict and warnings > 0)
    if fmt == "json":
        click.echo(json.dumps(_as_json(results, strict, errors, warnings), indent=2))
    else:
        for r in results:
            _echo_file(r)
        if not results:
            click.echo(f"no journey files (*.yaml, *.yml) in {', '.join(paths)}", err=True)
        click.echo(_summary(len(results), errors, warnings, strict))
    click.get_current_context().exit(1 if failed else 0)


def installed_names() -> KnownNames | None:
    """What the installed plugins register; None (first-party names only) when
    the plugin set is broken, which `journeyflow plugins` explains."""
    from journeyflow.plugin.manager import build_manager  # looked up per call: tests replace it
    from journeyflow.plugin.registry import Registry

    try:
        return Registry.from_manager(build_manager()).known_names()
    except JourneyflowError as exc:
        click.echo(
            f"note: plugins not loaded ({exc}); names are checked against the "
            "first-party ones only",
            err=True,
        )
        return None


_REGISTERED_NAMES = frozenset({"JF501", "JF502", "JF503", "JF504"})


def _registry_warning(problem: Problem) -> Problem:
    if problem.code in _REGISTERED_NAMES and problem.severity == "error":
        return dataclasses.replace(problem, severity="warning")
    return problem


def _echo_file(result: Analysis) -> None:
    lines = source_lines(result.source)
    for problem in result.problems[:MAX_PER_FILE]:
        colour = "red" if problem.severity == "error" else "yellow"
        click.echo(
            f"{problem.location()}: "
            f"{click.style(problem.severity, fg=colour, bold=True)} "
            f"{problem.code}: {problem.message}"
        )
        if problem.line is not None and 0 < problem.line <= len(lines):
            text = lines[problem.line - 1].rstrip()
            shown = text if len(text) <= 120 else text[:117] + "..."
            gutter = f"{problem.line:>5} | "
            click.echo(f"{gutter}{shown}")
            if problem.column is not None and problem.column <= len(shown) + 1:
                pad = "".join("\t" if c == "\t" else " " for c in shown[: problem.column - 1])
                click.echo(f"{' ' * (len(gutter) - 2)}| {pad}^")
    hidden = len(result.problems) - MAX_PER_FILE
    if hidden > 0:
        click.echo(f"{result.path}: ... and {hidden} more problems")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(files: int, errors: int, warnings: int, strict: bool) -> str:
    text = f"{_plural(files, 'file')}, {_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    if strict and warnings and not errors:
        text += " (--strict: warnings fail)"
    return text


def _status(result: Analysis, strict: bool) -> str:
    if result.errors:
        return "error"
    if result.warnings:
        return "error" if strict else "warning"
    return "ok"


def _as_json(
    results: list[Analysis], strict: bool, errors: int, warnings: int
) -> dict[str, object]:
    problems: list[Problem] = [p for r in results for p in r.problems]
    return {
        "files": [
            {
                "file": r.path,
                "status": _status(r, strict),
                "errors": len(r.errors),
                "warnings": len(r.warnings),
                "journey": r.journey.journey if r.journey else None,
                "version": r.journey.version if r.journey else None,
            }
            for r in results
        ],
        "problems": [p.as_dict() for p in problems],
        "summary": {
            "files": len(results),
            "errors": errors,
            "warnings": warnings,
            "strict": strict,
        },
    }
