"""Offline corpus: docstrings of the running Python's standard library (PSF licence).

Chosen because every user already has it (no root, no download). Its content depends on the
Python version, so the sha256 and the version are recorded beside it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import sysconfig
from pathlib import Path

# Folders of the stdlib that are tests, vendored third-party code or GUI demos, not prose.
_SKIP_PARTS = {"test", "tests", "site-packages", "idle_test", "__pycache__", "turtledemo", "dist-packages"}


def stdlib_sources(root: Path | None = None) -> list[Path]:
    """Python source files of the standard library, sorted for determinism."""
    root = Path(root or sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py") if not (_SKIP_PARTS & set(p.relative_to(root).parts))]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def docstrings(path: Path) -> list[str]:
    """Docstrings of a module, its classes and functions, in source order (empty on syntax errors)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return []
    nodes = [tree] + [n for n in ast.walk(tree)
                      if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    out = []
    for node in nodes:
        doc = ast.get_docstring(node, clean=True)
        if doc and len(doc) >= 40:
            out.append(doc.strip())
    return out


def build_corpus(max_bytes: int, heldout_fraction: float) -> tuple[str, str, dict]:
    """Collect docstrings; every ``round(1/heldout_fraction)``-th *file* goes to the held-out split.

    Splitting by file keeps held-out text from sharing paragraphs with training text.
    Returns (train text, held-out text, provenance dict).
    """
    if not 0.0 < heldout_fraction < 0.5:
        raise ValueError(f"data.corpus.heldout_fraction must be in (0, 0.5), got {heldout_fraction}")
    stride = max(2, round(1.0 / heldout_fraction))
    train: list[str] = []
    heldout: list[str] = []
    size = 0
    files = stdlib_sources()
    if not files:
        raise FileNotFoundError(f"no standard-library sources under {sysconfig.get_paths()['stdlib']}")
    seen: set[str] = set()
    for index, path in enumerate(files):
        # Many stdlib modules repeat docstrings (e.g. _pydecimal and decimal): keep each
        # paragraph once, so held-out text never also appears in training text.
        paragraphs = [p for doc in docstrings(path) for p in doc.split("\n\n") if p.strip()]
        fresh = [p for p in paragraphs if not (p in seen or seen.add(p))]
        if not fresh:
            continue
        block = "\n\n".join(fresh)
        (heldout if index % stride == stride - 1 else train).append(block)
        size += len(block.encode())
        if size >= max_bytes:
            break
    train_text, heldout_text = "\n\n".join(train) + "\n", "\n\n".join(heldout) + "\n"
    provenance = {
        "source": "stdlib_docstrings",
        "python": sys.version.split()[0],
        "files_read": index + 1,
        "train_bytes": len(train_text.encode()),
        "heldout_bytes": len(heldout_text.encode()),
        "train_sha256": hashlib.sha256(train_text.encode()).hexdigest(),
        "heldout_sha256": hashlib.sha256(heldout_text.encode()).hexdigest(),
    }
    return train_text, heldout_text, provenance


def write_corpus(train_path: Path, heldout_path: Path, provenance_path: Path,
                 max_bytes: int, heldout_fraction: float) -> dict:
    """Build the corpus and write its two splits and provenance JSON."""
    train, heldout, prov = build_corpus(max_bytes, heldout_fraction)
    Path(train_path).write_text(train, encoding="utf-8")
    Path(heldout_path).write_text(heldout, encoding="utf-8")
    Path(provenance_path).write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    return prov
