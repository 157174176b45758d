"""Editing package code reruns exactly the stages that import it (sinkprune.codehash)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sinkprune.codehash import code_hash, config_sections, source_closure

ROOT = Path(__file__).resolve().parents[1]


def _package(tmp_path: Path) -> Path:
    """A toy ``sinkprune`` tree: stage ``a`` imports ``b`` inside a function, ``c`` stands alone,
    and the entry module lazily imports both ``a`` and ``c`` (two sub-commands)."""
    pkg = tmp_path / "sinkprune"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from . import b\n    return b.g()\n")
    (pkg / "sub" / "b.py").write_text("import json\ndef g():\n    return 1\n")
    (pkg / "c.py").write_text("X = 1\n")
    (pkg / "sub" / "__main__.py").write_text("def run():\n    from sinkprune.sub import a\n    from sinkprune import c\n")
    return tmp_path


def _hash(root: Path, *modules: str, entry: str | None = None) -> str:
    code_hash.cache_clear()
    return code_hash(*modules, entry=entry, root=str(root))


def test_closure_follows_lazy_and_relative_imports_and_parent_packages(tmp_path):
    root = _package(tmp_path)
    files = {p.relative_to(root).as_posix() for p in source_closure(("sinkprune.sub.a",), root)}
    assert files == {"sinkprune/__init__.py", "sinkprune/sub/__init__.py", "sinkprune/sub/a.py", "sinkprune/sub/b.py"}


def test_editing_an_imported_module_changes_only_its_importers_hash(tmp_path):
    root = _package(tmp_path)
    before_a, before_c = _hash(root, "sinkprune.sub.a"), _hash(root, "sinkprune.c")
    with open(root / "sinkprune/sub/b.py", "a") as f:
        f.write("# edited\n")
    assert _hash(root, "sinkprune.sub.a") != before_a
    assert _hash(root, "sinkprune.c") == before_c


def test_entry_module_counts_itself_but_not_other_subcommands(tmp_path):
    root = _package(tmp_path)
    before = _hash(root, "sinkprune.c", entry="sinkprune.sub.__main__")
    (root / "sinkprune/sub/b.py").write_text("def g():\n    return 2\n")  # only sub-command a uses b
    assert _hash(root, "sinkprune.c", entry="sinkprune.sub.__main__") == before
    (root / "sinkprune/sub/__main__.py").write_text("def run():\n    pass\n")
    assert _hash(root, "sinkprune.c", entry="sinkprune.sub.__main__") != before


def test_missing_module_is_named(tmp_path):
    root = _package(tmp_path)
    with pytest.raises(ValueError, match="sinkprune.nope"):
        _hash(root, "sinkprune.nope")


def test_real_stages_track_their_own_code():
    prune = {p.relative_to(ROOT).as_posix() for p in source_closure(("sinkprune.prune.api",), ROOT)}
    assert "sinkprune/models/checkpoint.py" in prune  # pruning loads and saves checkpoints
    assert "sinkprune/tables.py" not in prune
    tables = {p.relative_to(ROOT).as_posix() for p in source_closure(("sinkprune.tables",), ROOT)}
    assert not any(p.startswith("sinkprune/models/") for p in tables)


@pytest.mark.slow
def test_dry_run_plans_the_stage_whose_code_changed(tmp_path):
    """Real Snakemake: after a run, editing corpus code plans the corpus rule again; editing the
    tables module (which the corpus rule does not import) plans nothing."""
    repo = tmp_path / "repo"
    for name in ("Snakefile", "environment.yml", "rules", "workflow", "config", "sinkprune", "tests/config"):
        src = ROOT / name
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, repo / name)
    shutil.rmtree(repo / "sinkprune" / "__pycache__", ignore_errors=True)
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--configfile",
           str(repo / "tests/config/smoke.yaml"), "-c", "1", "-d", str(work), "results/data/corpus.txt"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

    def planned() -> str:
        proc = subprocess.run(cmd + ["-n"], capture_output=True, text=True, env=env, check=True)
        return proc.stdout

    subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert "Nothing to be done" in planned()
    with open(repo / "sinkprune/tables.py", "a") as f:
        f.write("# an edit the corpus stage does not run\n")
    assert "Nothing to be done" in planned()
    with open(repo / "sinkprune/data/corpus.py", "a") as f:
        f.write("# an edit the corpus stage runs\n")
    out = planned()
    assert "rule corpus" in out and "params" in out.lower(), out[-2000:]


def test_a_named_package_counts_whole_but_not_its_command_line(tmp_path):
    """Naming a package covers its lazily imported sub-modules (an edit there reruns the rule);
    its __main__ stays out, as an entry module's other sub-commands do."""
    root = _package(tmp_path)
    files = {p.relative_to(root).as_posix() for p in source_closure(("sinkprune.sub",), root)}
    assert {"sinkprune/sub/a.py", "sinkprune/sub/b.py"} <= files
    assert "sinkprune/sub/__main__.py" not in files and "sinkprune/c.py" not in files


def test_config_sections_follow_the_lookups_of_the_code(tmp_path):
    root = _package(tmp_path)
    sections = ("seed", "data", "eval", "prune")
    (root / "sinkprune/sub/b.py").write_text("def g(config):\n    return config['seed'], config.get('prune', {})\n")
    assert config_sections("sinkprune.sub.a", root=str(root), sections=sections) == ("seed", "prune")
    # A lookup the code gains is a trigger the rule gains; the entry module's lookups count.
    (root / "sinkprune/sub/__main__.py").write_text("def run(config):\n    return config['eval']\n")
    config_sections.cache_clear()
    assert config_sections("sinkprune.sub.a", entry="sinkprune.sub.__main__", root=str(root),
                           sections=sections) == ("seed", "eval", "prune")
    assert config_sections("sinkprune.c", root=str(root), sections=sections) == ()
