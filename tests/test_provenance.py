"""Tests of sinkprune.provenance: content, determinism, behaviour outside git."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from sinkprune import provenance as prov


def _write_config(path: Path, text: str = "seed: 0\nprotocol: corrected\n") -> Path:
    path.write_text(text)
    return path


def test_record_content(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "c.yaml")
    out = tmp_path / "p.json"
    assert prov.main(["--config", str(cfg), "--out", str(out), "--repo", str(tmp_path)]) == 0
    rec = json.loads(out.read_text())
    assert rec["config"]["sha256"] == hashlib.sha256(b"seed: 0\nprotocol: corrected\n").hexdigest()
    assert rec["protocol"] == "corrected"
    assert rec["python"] == platform.python_version()
    assert set(rec["packages"]) == set(prov.KEY_PACKAGES)
    # The test runner itself needs these, so they must be real versions, not placeholders.
    assert rec["packages"]["pandas"][0].isdigit() and rec["packages"]["snakemake"][0].isdigit()


def test_rerun_is_byte_identical(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "c.yaml")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    prov.main(["--config", str(cfg), "--out", str(a), "--repo", str(tmp_path)])
    prov.main(["--config", str(cfg), "--out", str(b), "--repo", str(tmp_path)])
    assert a.read_bytes() == b.read_bytes()


def test_config_change_changes_record(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "c.yaml")
    before = prov.to_json(prov.collect(cfg, tmp_path))
    _write_config(cfg, "seed: 1\nprotocol: corrected\n")
    assert prov.to_json(prov.collect(cfg, tmp_path)) != before


def test_protocol_is_recorded_and_required(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path / "c.yaml", "seed: 0\nprotocol: released\n")
    assert prov.collect(cfg, tmp_path)["protocol"] == "released"
    _write_config(cfg, "seed: 0\n")
    with pytest.raises(ValueError, match="protocol"):
        prov.collect(cfg, tmp_path)


def test_outside_git_commit_is_unknown(tmp_path: Path) -> None:
    assert prov.git_state(tmp_path) == {"commit": "unknown", "dirty": None}


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_inside_git_reports_commit_and_dirty(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = git("rev-parse", "HEAD")
    assert prov.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "untracked").write_text("results do not make the tree dirty")
    assert prov.git_state(tmp_path)["dirty"] is False
    (tmp_path / "f").write_text("2")
    assert prov.git_state(tmp_path) == {"commit": head, "dirty": True}


def test_missing_package_is_reported_not_raised() -> None:
    assert prov.package_versions(("surely-not-a-real-dist-xyz",)) == {
        "surely-not-a-real-dist-xyz": prov.NOT_INSTALLED
    }


def test_missing_config_is_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prov.main(["--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "p.json")]) == 2
    assert "not found" in capsys.readouterr().err
