"""``sinkprune <stage> ...``: every stage module is reachable through the one command line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sinkprune
from sinkprune.cli import STAGES, main

PACKAGE = Path(sinkprune.__file__).parent


def _defines_main(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def stage_modules() -> set[str]:
    """Stages found on disk: subpackages with ``__main__.py`` and modules defining ``main``."""
    found = {p.parent.name for p in PACKAGE.glob("*/__main__.py")}
    found |= {p.stem for p in PACKAGE.glob("*.py")
              if p.stem not in ("cli", "__main__", "__init__") and _defines_main(p)}
    return found


def test_stage_list_matches_the_stage_modules() -> None:
    assert set(STAGES) == stage_modules()


def test_help_lists_every_stage(capsys) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.split("stages:", 1)[1].splitlines() if line.strip()}
    assert listed == stage_modules()


def test_console_script_help_lists_every_stage() -> None:
    """``python -m sinkprune --help`` (the same entry as the ``sinkprune`` console script)."""
    done = subprocess.run([sys.executable, "-m", "sinkprune", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for stage in stage_modules():
        assert f"\n  {stage} " in done.stdout


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_help_through_the_dispatcher(stage, capsys) -> None:
    try:
        main([stage, "--help"])
    except SystemExit as stop:  # argparse exits 0 after printing help
        assert stop.code == 0
    assert f"sinkprune {stage}" in capsys.readouterr().out


def test_stage_arguments_reach_the_stage(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["prune", "stats"])  # stats without its required arguments
    assert stop.value.code == 2
    assert "sinkprune prune stats" in capsys.readouterr().err


def test_unknown_stage_is_named(capsys) -> None:
    assert main(["prunee", "stats"]) == 2
    err = capsys.readouterr().err
    assert "unknown stage 'prunee'" in err and "prune" in err
