"""Checkpoints with equal files are scored once per evaluation job.

An evaluation result is a function of the checkpoint directory's files, the tasks and the config:
no path, method name or time enters it (``sinkprune.evaluate.run.stable_results``). So a model
whose files equal an earlier model's of the same job gets a copy of that model's results, the
bytes a second evaluation would write. Sink-aware methods with the ``unstable`` gate prune to the
released methods' weights whenever every sink is unstable; with this they cost nothing extra.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def _layout(directory: Path) -> tuple:
    """Names and sizes of a directory's files: cheap, and equal whenever the contents are."""
    return tuple((str(p.relative_to(directory)), p.stat().st_size) for p in _files(directory))


def _digest(directory: Path) -> str:
    """sha256 over every file's name and bytes, in name order."""
    total = hashlib.sha256()
    for path in _files(directory):
        total.update(str(path.relative_to(directory)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                total.update(block)
        total.update(b"\0")
    return total.hexdigest()


def first_equal(models: list[str]) -> list[int]:
    """For each model, the index of the first model of the list with equal files (itself if none).

    Only local directories are compared (a hub id is always its own); files are hashed only when
    two directories have the same names and sizes, so distinct checkpoints cost a ``stat`` each.
    """
    layouts: dict[int, tuple] = {}
    for i, model in enumerate(models):
        if Path(model).is_dir():
            layouts[i] = _layout(Path(model))
    digests: dict[int, str] = {}
    first = list(range(len(models)))
    for i in layouts:
        for j in range(i):
            if j not in layouts or first[j] != j or layouts[j] != layouts[i]:
                continue
            for k in (i, j):
                if k not in digests:
                    digests[k] = _digest(Path(models[k]))
            if digests[i] == digests[j]:
                first[i] = j
                break
    return first
