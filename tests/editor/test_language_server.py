"""The journey schema in a real editor engine: yaml-language-server (the server
behind VS Code's YAML extension and most other editors), driven over stdio as
an editor drives it.

A journey opened with the schema modeline gets its mistakes underlined in
plain words, a field's description on hover, and the fields and snippets that
fit where the cursor is. `.ci/run` installs the server with npm into
`.cache/npm/` (git-ignored); where it is not installed the tests skip and say
how to install it. The server reads the schema file the modeline names, as an
editor does: the committed `schemas/journey.schema.json`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journeyflow.commands.new import starter
from tests.editor.lsp import LanguageClient

ROOT = Path(__file__).parents[2]
SERVER = ROOT / ".cache" / "npm" / "node_modules" / "yaml-language-server" / "bin"
SERVER_SCRIPT = SERVER / "yaml-language-server"
INSTALL = "npm install --prefix .cache/npm yaml-language-server@1 (as .ci/run does)"
SETTINGS: dict[str, Any] = {
    "yaml": {
        "validate": True,
        "hover": True,
        "completion": True,
        "schemaStore": {"enable": False},  # nothing from the network
    }
}
CAPABILITIES: dict[str, Any] = {
    "textDocument": {
        "completion": {"completionItem": {"snippetSupport": True}},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
        "publishDiagnostics": {},
    },
    "workspace": {"configuration": True},
}

MODELINE = "# yaml-language-server: $schema=../schemas/journey.schema.json\n"
JOURNEY = (
    MODELINE
    + """\
journey: editor-check
version: 1
entry:
  on: [signed_up]
initial: welcome
states:
  welcome:
    owner: crm-team
    on_enter:
      - send: email
        template: welcome
    transitions:
      - after: 2d
        to: done
  done:
    final: true
"""
)


def line_of(text: str, needle: str) -> int:
    """The 0-based line holding `needle` (LSP positions are 0-based)."""
    return next(i for i, line in enumerate(text.split("\n")) if needle in line)


@pytest.fixture(scope="module")
def server_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: yaml-language-server needs Node.js and npm")
    if not SERVER_SCRIPT.is_file():
        why = "npm is not installed" if shutil.which("npm") is None else "it is not installed"
        pytest.skip(f"no yaml-language-server under .cache/npm ({why}): {INSTALL}")
    return [node, str(SERVER_SCRIPT), "--stdio"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project folder as `journeyflow new` leaves it: journeys/ and schemas/."""
    (tmp_path / "journeys").mkdir()
    (tmp_path / "schemas").mkdir()
    shutil.copyfile(
        ROOT / "schemas" / "journey.schema.json", tmp_path / "schemas" / "journey.schema.json"
    )
    return tmp_path


@pytest.fixture
def editor(server_command: list[str], workspace: Path) -> Iterator[LanguageClient]:
    client = LanguageClient(server_command, SETTINGS, workspace)
    try:
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": workspace.as_uri(),
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": "journeys"}],
                "capabilities": CAPABILITIES,
            },
        )
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": SETTINGS})
        yield client
    finally:
        client.close()


def open_journey(editor: LanguageClient, workspace: Path, text: str) -> str:
    path = workspace / "journeys" / "editor-check.yaml"
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    editor.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    return uri


def completion_items(result: Any) -> list[dict[str, Any]]:
    return list(result["items"] if isinstance(result, dict) else result or [])


def test_mistakes_are_underlined_where_they_are_in_plain_words(
    editor: LanguageClient, workspace: Path
) -> None:
    text = JOURNEY.replace("after: 2d", "after: 2 days").replace("owner:", "ownr:")
    uri = open_journey(editor, workspace, text)
    found = editor.wait_for(
        "textDocument/publishDiagnostics", lambda p: p["uri"] == uri and bool(p["diagnostics"])
    )["diagnostics"]
    by_line = {d["range"]["start"]["line"]: d["message"] for d in found}

    duration = line_of(text, "after: 2 days")
    assert by_line.get(duration, "").startswith("not a duration: write a number and a unit")
    assert "^" not in by_line[duration]  # the words, not the regex
    assert "ownr" in by_line.get(line_of(text, "ownr:"), "")
    assert len(found) == 2, found


def test_the_starter_of_journeyflow_new_has_no_diagnostics(
    editor: LanguageClient, workspace: Path
) -> None:
    uri = open_journey(editor, workspace, starter("editor-check", "../schemas/journey.schema.json"))
    published = editor.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    assert published["diagnostics"] == []


def test_hover_on_a_field_shows_its_description(editor: LanguageClient, workspace: Path) -> None:
    uri = open_journey(editor, workspace, JOURNEY)
    for needle, words in [
        ("owner:", "responsible for customers here"),
        ("transitions:", "the first that matches wins"),
        ("after:", "counted from entering the state — `30m`"),  # rendered as Markdown
    ]:
        line = line_of(JOURNEY, needle)
        column = JOURNEY.split("\n")[line].index(needle) + 1
        hover = editor.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": column}},
        )
        assert hover is not None, needle
        assert words in hover["contents"]["value"], (needle, hover)


def test_completion_inside_a_state_offers_its_fields_and_snippets(
    editor: LanguageClient, workspace: Path
) -> None:
    text = JOURNEY.replace("    owner: crm-team\n", "    owner: crm-team\n    \n")
    uri = open_journey(editor, workspace, text)
    blank = line_of(text, "owner: crm-team") + 1
    result = editor.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": blank, "character": 4}},
    )
    labels = {item["label"]: item for item in completion_items(result)}
    assert {"stage", "description", "on_exit", "final", "checklist"} <= labels.keys()
    assert "owner" not in labels  # already there
    final = labels["state: final"]
    assert final["insertTextFormat"] == 2  # a snippet
    assert final["insertText"].startswith("final: true")


def test_completion_in_a_transition_list_offers_transition_snippets(
    editor: LanguageClient, workspace: Path
) -> None:
    text = JOURNEY.replace("        to: done\n", "        to: done\n      - \n")
    uri = open_journey(editor, workspace, text)
    item_line = line_of(text, "to: done") + 1
    result = editor.request(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": item_line, "character": 8}},
    )
    labels = {item["label"]: item for item in completion_items(result)}
    assert {"on an event", "after a while", "at a computed time"} <= labels.keys()
    assert labels["after a while"]["insertText"].startswith("after: ${1:2d}")
    assert {"on", "after", "at", "split", "to", "when"} <= labels.keys()


def test_the_vs_code_glob_setting_checks_journeys_and_leaves_test_files_alone(
    server_command: list[str], workspace: Path
) -> None:
    """The `yaml.schemas` setting of docs/editor.md, without any modeline."""
    glob = {"./schemas/journey.schema.json": ["journeys/*.yaml", "!journeys/*.test.yaml"]}
    settings = {"yaml": {**SETTINGS["yaml"], "schemas": glob}}
    client = LanguageClient(server_command, settings, workspace)
    try:
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": workspace.as_uri(),
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": "journeys"}],
                "capabilities": CAPABILITIES,
            },
        )
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": settings})
        published = {}
        for name, text in [
            ("welcome.yaml", JOURNEY.replace(MODELINE, "").replace("after: 2d", "after: 2x")),
            ("welcome.test.yaml", "journey: editor-check\ntests: []\n"),
        ]:
            uri = (workspace / "journeys" / name).as_uri()
            client.notify(
                "textDocument/didOpen",
                {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
            )
            # the journey is opened first: its schema is loaded when the test file opens
            expect_some = not name.endswith(".test.yaml")
            published[name] = client.wait_for(
                "textDocument/publishDiagnostics",
                lambda p, uri=uri, some=expect_some: (
                    p["uri"] == uri and (bool(p["diagnostics"]) or not some)
                ),
            )["diagnostics"]
    finally:
        client.close()
    assert [d["message"][:16] for d in published["welcome.yaml"]] == ["not a duration: "]
    assert published["welcome.test.yaml"] == []
