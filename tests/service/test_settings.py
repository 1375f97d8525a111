"""`journeyflow run`'s settings: flags over environment over a file, bad ones in one line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.exceptions import JourneyflowError
from journeyflow.service.settings import load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.database == "sqlite:///journeyflow.db"
    assert settings.port == 8787
    assert settings.segments_every == timedelta(days=1)
    assert settings.grace == timedelta(seconds=30)
    assert settings.keys() == []


def test_a_flag_beats_the_environment_which_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('port = 9001\nbatch_size = 50\nwrite_keys = ["from-file"]\npoll = "5s"\n')
    monkeypatch.setenv("JOURNEYFLOW_BATCH_SIZE", "70")
    monkeypatch.setenv("JOURNEYFLOW_WRITE_KEYS", "k1, k2")
    settings = load_settings(config, port=9002, grace="10s")
    assert settings.port == 9002  # flag
    assert settings.batch_size == 70  # environment over file
    assert settings.keys() == ["k1", "k2"]  # comma-separated in the environment
    assert settings.poll == timedelta(seconds=5)  # file, where nothing else says
    assert settings.grace == timedelta(seconds=10)


def test_write_keys_never_print() -> None:
    settings = load_settings(write_keys=["s3cret"])
    assert "s3cret" not in repr(settings)
    assert settings.keys() == ["s3cret"]


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"port": 70000}, "port (--port / JOURNEYFLOW_PORT"),
        ({"grace": "soon"}, "grace (--grace / JOURNEYFLOW_GRACE"),
        ({"log_format": "xml"}, "log_format"),
        ({"bogus": 1}, "bogus (--bogus / JOURNEYFLOW_BOGUS): no such setting"),
    ],
)
def test_a_bad_value_is_one_line_naming_it(flags: dict[str, object], named: str) -> None:
    with pytest.raises(JourneyflowError) as caught:
        load_settings(**flags)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("port = = 1\n")
    with pytest.raises(JourneyflowError, match=r"run\.toml: not TOML"):
        load_settings(config)


def test_the_command_refuses_to_start_without_a_write_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--database", f"sqlite:///{tmp_path / 'x.db'}"],
        env={"JOURNEYFLOW_WRITE_KEYS": ""},
    )
    assert result.exit_code == 1
    assert "no write key" in result.output
    assert "Traceback" not in result.output


def test_the_command_refuses_a_memory_store(tmp_path: Path) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    result = CliRunner().invoke(
        main, ["run", "--database", "memory://", "--write-key", "k", "--journeys", str(journeys)]
    )
    assert result.exit_code == 1
    assert "needs a database" in result.output
