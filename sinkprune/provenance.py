"""Provenance record of a run: package versions, config hash, git commit, Python version.

CLI::

    sinkprune provenance --config config/mini.yaml --out results/provenance.json

The file is byte-identical across reruns with the same environment, config and commit: it holds
no timestamps, hostnames or absolute paths, keys are sorted, and JSON is written with a fixed
layout.  That makes it safe to list in the sha256 manifest: a changed hash means a changed
environment, which is exactly what the manifest should flag.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from sinkprune.checksums import atomic_write
from sinkprune.stage_parser import stage_parser

# Distribution names (as pip knows them) whose versions decide the numbers in the tables.
KEY_PACKAGES: tuple[str, ...] = (
    "lm_eval",
    "numpy",
    "pandas",
    "scikit-learn",
    "seaborn",
    "snakemake",
    "snakemake-executor-plugin-slurm",
    "torch",
    "transformers",
)
NOT_INSTALLED = "not installed"
UNKNOWN = "unknown"


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"``.

    Read from package metadata rather than by importing, so recording provenance never pays
    torch's import time and never fails because a package is broken.
    """
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's exact bytes (comments and key order included, unlike config_digest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_state(cwd: str | Path = ".") -> dict[str, Any]:
    """Commit hash of HEAD and whether tracked files differ from it; ``"unknown"`` outside git.

    ``dirty`` is True when tracked files have uncommitted changes (untracked files are ignored:
    results/ and logs/ are generated inside the tree).  None when git is unavailable.
    """
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if not commit:
        return {"commit": UNKNOWN, "dirty": None}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def config_protocol(config_path: str | Path) -> str:
    """The config's ``protocol`` (released | corrected): which rules produced the results."""
    import yaml

    protocol = (yaml.safe_load(Path(config_path).read_text()) or {}).get("protocol")
    if protocol not in ("released", "corrected"):
        raise ValueError(f"{config_path}: config key 'protocol' must be released or corrected, got {protocol!r}")
    return protocol


def collect(config_path: str | Path, repo: str | Path = ".") -> dict[str, Any]:
    """The provenance record as a JSON-serialisable dict (see module docstring)."""
    return {
        "config": {"path": Path(config_path).as_posix(), "sha256": file_sha256(config_path)},
        "protocol": config_protocol(config_path),
        "git": git_state(repo),
        "packages": package_versions(),
        "platform": {"machine": platform.machine(), "system": platform.system()},
        "python": platform.python_version(),
    }


def to_json(record: dict[str, Any]) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sinkprune provenance``."""
    parser, _ = stage_parser("provenance", __doc__)
    parser.add_argument("--config", required=True, help="the config file the run used")
    parser.add_argument("--out", required=True, help="where to write the JSON record")
    parser.add_argument("--repo", default=".", help="git work tree to read the commit from")
    args = parser.parse_args(argv)
    if not Path(args.config).is_file():
        print(f"provenance: config file not found: {args.config}", file=sys.stderr)
        return 2
    atomic_write(args.out, to_json(collect(args.config, args.repo)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
