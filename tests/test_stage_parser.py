"""sinkprune.stage_parser: the parser every stage's command line starts from."""

from __future__ import annotations

import os

import pytest

from sinkprune.stage_parser import stage_parser


def test_steps_are_required_and_named(capsys: pytest.CaptureFixture[str]) -> None:
    parser, steps = stage_parser("demo", "Demo stage.\n\n    layout   kept", {"one": "first step", "two": "second"})
    steps["one"].add_argument("--config", required=True)
    assert parser.parse_args(["one", "--config", "c.yaml"]).step == "one"
    with pytest.raises(SystemExit):
        parser.parse_args([])
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = capsys.readouterr().out
    assert help_text.startswith("usage: sinkprune demo") and "layout   kept" in help_text and "first step" in help_text


def test_single_command_stage_and_dest() -> None:
    parser, steps = stage_parser("demo", None)
    assert steps == {} and parser.prog == "sinkprune demo"
    parser, _ = stage_parser("demo", None, {"run": "r"}, dest="command")
    assert parser.parse_args(["run"]).command == "run"


def test_offline_switches_to_the_local_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # restored after the test
        monkeypatch.delenv(name, raising=False)
    stage_parser("demo", None)
    assert "HF_HUB_OFFLINE" not in os.environ
    stage_parser("demo", None, offline=True)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
