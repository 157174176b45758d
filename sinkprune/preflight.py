"""Check, in seconds and before any GPU job, that a run of the config can start and finish.

    sinkprune preflight --config config/paper.yaml [--needed-disk-bytes N]

Everything is read locally (no network): every model file the loader reads is in the Hugging
Face hub cache (``huggingface_hub.try_to_load_from_cache``: a snapshot link whose blob is gone
counts as missing), every dataset configuration is in the ``datasets`` Arrow cache that offline
``load_dataset`` reads, a GPU is visible when the config asks for one, and the working
directory's disk has room for the run. All problems are reported together, one per line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sinkprune.hub_needs import GATED, DatasetNeed, ModelNeed, needed_datasets, needed_models
from sinkprune.stage_parser import stage_parser


def _hf_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(os.environ.get("HF_HOME", default)).expanduser()


def hub_cache_dir() -> Path:
    """huggingface_hub's cache (HF_HUB_CACHE, else HF_HOME/hub), read from the environment now
    rather than at import time, so a changed HF_HOME is honoured."""
    return Path(os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
                or _hf_home() / "hub").expanduser()


def datasets_cache_dir() -> Path:
    """datasets' Arrow cache (HF_DATASETS_CACHE, else HF_HOME/datasets)."""
    return Path(os.environ.get("HF_DATASETS_CACHE") or _hf_home() / "datasets").expanduser()


def _cached(repo_id: str, filename: str, cache: Path) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=str(cache))
    return Path(found) if isinstance(found, str) else None


def model_problems(need: ModelNeed, cache: Path) -> list[str]:
    """Missing files of one checkpoint (config, weights and every shard, tokenizer)."""
    where = f"model {need.repo_id} (models.{need.key})"
    config = _cached(need.repo_id, "config.json", cache)
    if config is None:
        return [f"{where}: not in the Hugging Face cache {cache}"]
    missing = []
    index = _cached(need.repo_id, "model.safetensors.index.json", cache)
    if index is not None:
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing += [s for s in shards if _cached(need.repo_id, s, cache) is None]
    elif _cached(need.repo_id, "model.safetensors", cache) is None:
        missing.append("model.safetensors (or model.safetensors.index.json and its shards)")
    if _cached(need.repo_id, "tokenizer_config.json", cache) is None:
        missing.append("tokenizer_config.json")
    has_fast = _cached(need.repo_id, "tokenizer.json", cache) is not None
    bpe = [f for f in ("vocab.json", "merges.txt") if _cached(need.repo_id, f, cache) is None]
    if not has_fast and bpe:
        missing.append("tokenizer.json (or " + " and ".join(bpe) + ")")
    return [f"{where}: missing {name}" for name in missing]


def dataset_cached(need: DatasetNeed, cache: Path) -> bool:
    """Whether offline ``load_dataset(need.path, need.name)`` finds a prepared copy: the lookup
    of datasets' Cache builder, ``ORG___NAME/CONFIG/VERSION/HASH/dataset_info.json``."""
    from datasets.naming import camelcase_to_snakecase

    *namespace, name = need.path.split("/")
    folder = cache / "___".join([*namespace, camelcase_to_snakecase(name)])
    return any(folder.glob(f"{need.name or '*'}/*/*/dataset_info.json"))


def gpu_problem(config: dict) -> str | None:
    """None when no GPU is wanted or one is visible (nvidia-smi here, or GPU nodes in SLURM)."""
    device = config.get("device", "auto")
    wanted = device == "cuda" or (device == "auto" and config.get("scale") == "paper")
    if not wanted:
        return None
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return f"config device: {device} wants a GPU, but CUDA_VISIBLE_DEVICES hides every GPU"
    for command in (["nvidia-smi", "-L"], ["sinfo", "-h", "-o", "%G"]):
        if shutil.which(command[0]) is None:
            continue
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "GPU" in out or "gpu" in out:
            return None
    return (f"config device: {device} at {config.get('scale')} scale wants a GPU, but none is visible "
            "(nvidia-smi lists none here and no SLURM partition offers GRES gpu)")


def disk_problem(needed_disk_bytes: int, where: Path) -> str | None:
    """None when ``where``'s file system has ``needed_disk_bytes`` free."""
    free = shutil.disk_usage(where).free
    if needed_disk_bytes > free:
        return (f"disk: the run needs {needed_disk_bytes / 1e9:.1f} GB in {where.resolve()}, "
                f"{free / 1e9:.1f} GB are free")
    return None


def preflight(config: dict, needed_disk_bytes: int, workdir: str | Path = ".") -> list[str]:
    """Every problem that would stop a run of ``config``, one line each ([] when ready)."""
    hub, datasets_cache = hub_cache_dir(), datasets_cache_dir()
    problems = [p for need in needed_models(config) for p in model_problems(need, hub)]
    for need in needed_datasets(config):
        if not dataset_cached(need, datasets_cache):
            note = f"; {GATED[need.path]}" if need.path in GATED else ""
            problems.append(f"dataset {need.label} [{', '.join(need.users)}]: not in the datasets cache "
                            f"{datasets_cache}{note}")
    for problem in (gpu_problem(config), disk_problem(int(needed_disk_bytes), Path(workdir))):
        if problem:
            problems.append(problem)
    return problems


def _planned_disk(config: dict) -> int:
    """Peak disk of the run from sinkprune.plan when that module exists, else 0 (not checked)."""
    try:
        from sinkprune.plan import peak_disk_bytes
    except ImportError:
        return 0
    return int(peak_disk_bytes(config))


def main(argv: list[str] | None = None) -> None:
    """Run every check; exit 1 with one message listing all problems."""
    from sinkprune.config import load_config

    parser, _ = stage_parser("preflight", __doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--needed-disk-bytes", type=int, default=None,
                        help="disk the run needs in the working directory (default: sinkprune.plan's estimate)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    needed = args.needed_disk_bytes if args.needed_disk_bytes is not None else _planned_disk(config)
    problems = preflight(config, needed)
    if problems:
        print(f"preflight failed for {args.config}: {len(problems)} problem(s)\n  " + "\n  ".join(problems)
              + "\nFetch what is missing with `snakemake download --configfile " + args.config
              + "` where there is network (docs/paper-scale-setup.md).", file=sys.stderr)
        sys.exit(1)
    print(f"preflight: {args.config} is ready (models and datasets cached, GPU and disk checked)")


if __name__ == "__main__":
    main()
