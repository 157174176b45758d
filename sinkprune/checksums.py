"""SHA-256 manifest of every result file, its verification, and atomic writes.

The manifest is the durable record of a run: one ``<sha256>  <path>`` line per file (the format
``sha256sum -c`` reads), sorted by path, paths relative to the directory the manifest is
resolved against (the repo root when run from there).  ``verify`` recomputes every hash and names
each file that changed, vanished, or appeared without being listed.

CLI::

    sinkprune checksums manifest --root results --out results/manifest.sha256
    sinkprune checksums verify --manifest results/manifest.sha256

Stages that write results use :func:`atomic_write` / :func:`atomic_path` so that an interrupted
job never leaves a truncated file that looks complete to Snakemake or to the manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sinkprune.stage_parser import stage_parser

CHUNK = 1 << 20  # 1 MiB reads keep memory flat on multi-GB checkpoints.
MANIFEST_NAME = "manifest.sha256"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path`` atomically.

    The temporary file lives in the same directory so ``os.replace`` is a same-filesystem rename
    (atomic on POSIX).  If the body raises, the temporary file is removed and ``path`` is left
    untouched.  The caller may write the temporary path with any library (torch.save,
    DataFrame.to_csv, ...).  The final file gets the usual 0644-minus-umask mode instead of
    mkstemp's 0600, so results stay readable by collaborators.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (str is UTF-8 encoded) to ``path`` atomically, fsync'ed before the rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())


# --------------------------------------------------------------------------------------------
# manifest
# --------------------------------------------------------------------------------------------
def list_files(root: str | os.PathLike[str], exclude: set[Path] | None = None) -> list[Path]:
    """Every regular file under ``root`` (symlinks followed to files), sorted, minus ``exclude``.

    Returned paths are ``root``-prefixed as given (``results/x.csv`` for ``root="results"``), so
    the manifest reads the same whichever absolute directory the repo is cloned into.  Temporary
    files of :func:`atomic_path` (``.name.*.tmp``) are in-flight writes and are skipped.
    """
    excluded = {p.resolve() for p in (exclude or set())}
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.startswith(".") and name.endswith(".tmp"):
                continue
            p = Path(dirpath) / name
            if p.is_file() and p.resolve() not in excluded:
                out.append(p)
    return sorted(out, key=lambda p: p.as_posix())


def build_manifest(root: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """Hash every file under ``root`` except ``out`` itself; return sorted (sha256, path) pairs."""
    files = list_files(root, exclude={Path(out)})
    return [(sha256_file(p), p.as_posix()) for p in files]


def format_manifest(entries: list[tuple[str, str]]) -> str:
    """``sha256sum``-compatible text: two spaces between hash and path, trailing newline."""
    return "".join(f"{digest}  {path}\n" for digest, path in entries)


def parse_manifest(text: str) -> dict[str, str]:
    """Map path -> sha256 from manifest text; raise ValueError naming a malformed line."""
    entries: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"manifest line {lineno} is not '<sha256>  <path>': {line!r}")
        entries[path] = digest
    return entries


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_manifest`; paths as written in the manifest."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.unlisted)

    def lines(self) -> list[str]:
        """One human-readable line per problem, changed first, each naming the file."""
        return (
            [f"CHANGED   {p}" for p in self.changed]
            + [f"MISSING   {p}" for p in self.missing]
            + [f"UNLISTED  {p}" for p in self.unlisted]
        )


def verify_manifest(
    manifest: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    base: str | os.PathLike[str] = ".",
) -> VerifyResult:
    """Recompute every hash listed in ``manifest``; report changed, missing and unlisted files.

    ``base`` is the directory manifest paths are relative to (the repo root).  ``root`` is the
    tree scanned for unlisted files; by default the manifest's own directory (``results/``).
    """
    manifest = Path(manifest)
    base = Path(base)
    listed = parse_manifest(manifest.read_text(encoding="utf-8"))
    result = VerifyResult()
    for path, digest in sorted(listed.items()):
        full = base / path
        if not full.is_file():
            result.missing.append(path)
        elif sha256_file(full) != digest:
            result.changed.append(path)
        result.checked += 1
    scan_root = Path(root) if root is not None else manifest.parent
    for p in list_files(scan_root, exclude={manifest}):
        rel = os.path.relpath(p, base)
        rel = Path(rel).as_posix()
        if rel not in listed:
            result.unlisted.append(rel)
    return result


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _cmd_manifest(args: argparse.Namespace) -> int:
    entries = build_manifest(args.root, args.out)
    atomic_write(args.out, format_manifest(entries))
    print(f"manifest: {len(entries)} files under {args.root} -> {args.out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    try:
        result = verify_manifest(args.manifest, root=args.root, base=args.base)
    except FileNotFoundError:
        print(f"verify: manifest {args.manifest} not found; build it with `snakemake manifest`",
              file=sys.stderr)
        return 2
    for line in result.lines():
        print(line, file=sys.stderr)
    if result.ok:
        print(f"verify: OK, {result.checked} files match {args.manifest}")
        return 0
    print(
        f"verify: FAILED: {len(result.changed)} changed, {len(result.missing)} missing, "
        f"{len(result.unlisted)} unlisted (of {result.checked} listed in {args.manifest})",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sinkprune checksums``."""
    parser, steps = stage_parser("checksums", __doc__, {
        "manifest": "hash every file under --root into --out",
        "verify": "recompute hashes; exit 1 naming every changed/missing/new file"}, dest="command")
    m = steps["manifest"]
    m.add_argument("--root", default="results")
    m.add_argument("--out", default=f"results/{MANIFEST_NAME}")
    m.set_defaults(func=_cmd_manifest)
    v = steps["verify"]
    v.add_argument("--manifest", default=f"results/{MANIFEST_NAME}")
    v.add_argument("--root", default=None, help="tree scanned for unlisted files (default: manifest's directory)")
    v.add_argument("--base", default=".", help="directory manifest paths are relative to (default: .)")
    v.set_defaults(func=_cmd_verify)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
