"""Unit tests of sinkprune.checksums: manifest format, verification, atomic writes."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from sinkprune import checksums as cs


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repo-like directory with results/{a.txt, sub/b.bin, sub/deeper/c.csv}; cwd set to it."""
    (tmp_path / "results" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "results" / "a.txt").write_text("alpha\n")
    (tmp_path / "results" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 5000)  # > 1 chunk
    (tmp_path / "results" / "sub" / "deeper" / "c.csv").write_text("x,y\n1,2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _make_manifest() -> str:
    assert cs.main(["manifest", "--root", "results", "--out", "results/manifest.sha256"]) == 0
    return Path("results/manifest.sha256").read_text()


def test_manifest_lists_every_file_sorted_with_true_hashes(tree: Path) -> None:
    text = _make_manifest()
    lines = text.splitlines()
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == ["results/a.txt", "results/sub/b.bin", "results/sub/deeper/c.csv"]
    for line in lines:
        digest, path = line.split("  ", 1)
        assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    # Rebuilding over an existing manifest must not list the manifest itself.
    assert _make_manifest() == text


def test_manifest_is_sha256sum_compatible(tree: Path) -> None:
    text = _make_manifest()
    assert text.endswith("\n")
    assert cs.parse_manifest(text) == {p: d for d, p in (ln.split("  ", 1) for ln in text.splitlines())}


def test_verify_passes_on_untouched_tree(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _make_manifest()
    assert cs.main(["verify", "--manifest", "results/manifest.sha256"]) == 0
    assert "OK, 3 files" in capsys.readouterr().out


def test_verify_names_each_changed_missing_and_unlisted_file(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _make_manifest()
    Path("results/a.txt").write_text("alpha\n!")                  # changed
    Path("results/sub/deeper/c.csv").write_text("x,y\n1,3\n")     # changed, same size
    Path("results/sub/b.bin").unlink()                            # missing
    Path("results/new.json").write_text("{}")                     # unlisted
    assert cs.main(["verify", "--manifest", "results/manifest.sha256"]) == 1
    err = capsys.readouterr().err
    assert "CHANGED   results/a.txt" in err
    assert "CHANGED   results/sub/deeper/c.csv" in err
    assert "MISSING   results/sub/b.bin" in err
    assert "UNLISTED  results/new.json" in err
    assert "2 changed, 1 missing, 1 unlisted" in err


def test_verify_detects_change_that_keeps_size_and_mtime(tree: Path) -> None:
    """Bytes are compared, not metadata: a same-size edit with the old mtime restored is caught."""
    _make_manifest()
    target = Path("results/a.txt")
    st = target.stat()
    target.write_text("alphA\n")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = cs.verify_manifest("results/manifest.sha256")
    assert result.changed == ["results/a.txt"] and not result.ok


def test_verify_missing_manifest_is_a_clear_error(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cs.main(["verify", "--manifest", "results/manifest.sha256"]) == 2
    assert "not found" in capsys.readouterr().err


def test_parse_manifest_rejects_malformed_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        cs.parse_manifest(f"{'0' * 64}  results/a\nnot-a-hash results/b\n")


def test_atomic_write_str_and_bytes(tmp_path: Path) -> None:
    cs.atomic_write(tmp_path / "new" / "x.txt", "héllo")
    assert (tmp_path / "new" / "x.txt").read_bytes() == "héllo".encode()
    cs.atomic_write(tmp_path / "new" / "x.txt", b"\x00\x01")
    assert (tmp_path / "new" / "x.txt").read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path / "new") == ["x.txt"]  # no temp file left behind


def test_atomic_write_gives_normal_permissions(tmp_path: Path) -> None:
    cs.atomic_write(tmp_path / "x", "a")
    mode = stat.S_IMODE((tmp_path / "x").stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not mkstemp's private 0600


def test_atomic_path_failure_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "result.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with cs.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path  # same directory: os.replace is a rename
            tmp.write_text("half-writ")
            raise RuntimeError("job killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.csv"]


def test_in_flight_temp_files_are_not_listed(tree: Path) -> None:
    Path("results/.a.txt.abc123.tmp").write_text("partial")
    assert "results/.a.txt.abc123.tmp" not in [p.as_posix() for p in cs.list_files("results")]
