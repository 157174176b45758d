"""Fetch every model, tokenizer and dataset a config needs into the Hugging Face cache.

    sinkprune download --config config/paper.yaml [--dry-run]

Run where there is network (a login node); compute jobs then read the cache offline
(sinkprune.hub_needs). Models come through ``snapshot_download`` with the files the loader reads
(config, generation config, tokenizer, safetensors; no remote code); datasets through
``datasets.load_dataset``, which stores both the hub files and the prepared Arrow cache that
offline loading reads. Gated datasets are named with what they need before anything is
fetched; one that cannot be fetched does not stop the others, and the command exits non-zero
listing every failure. Where the cache lives: ``HF_HOME`` (default ``~/.cache/huggingface``).
"""

from __future__ import annotations

import sys

from sinkprune.hub_needs import GATED, DatasetNeed, ModelNeed, needed_datasets, needed_models
from sinkprune.stage_parser import stage_parser


def download_model(need: ModelNeed) -> str:
    """snapshot_download of one checkpoint with the loader's files; returns the snapshot path."""
    from huggingface_hub import snapshot_download

    from sinkprune.hub import CHECKPOINT_FILES

    return snapshot_download(repo_id=need.repo_id, allow_patterns=list(CHECKPOINT_FILES))


def download_dataset(need: DatasetNeed) -> str:
    """load_dataset of one configuration (every split); returns a one-line summary."""
    import datasets

    loaded = datasets.load_dataset(need.path, need.name)
    return ", ".join(f"{split} {len(rows)}" for split, rows in loaded.items())


def gated_notes(needs: list[DatasetNeed]) -> list[str]:
    """What each gated dataset of ``needs`` requires (the static list, plus the hub's own flag
    when it can be asked)."""
    notes = []
    for need in needs:
        note = GATED.get(need.path)
        if note is None:
            try:
                from huggingface_hub import HfApi

                gated = HfApi().dataset_info(need.path).gated
            except Exception:  # offline or unknown: the download itself will report it
                gated = False
            if gated:
                note = (f"gated ({gated}): request access at https://huggingface.co/datasets/{need.path}, "
                        "then export HF_TOKEN")
        if note:
            notes.append(f"{need.label} [{', '.join(need.users)}]: {note}")
    return notes


def main(argv: list[str] | None = None) -> None:
    """Download everything the config needs; exit 1 listing what failed."""
    from sinkprune.config import load_config

    parser, _ = stage_parser("download", __doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--dry-run", action="store_true", help="list what would be fetched, fetch nothing")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    models, datasets_needed = needed_models(config), needed_datasets(config)
    print(f"{len(models)} model(s), {len(datasets_needed)} dataset configuration(s) for {args.config}")
    for note in gated_notes(datasets_needed) if not args.dry_run else [
            f"{n.label}: {GATED[n.path]}" for n in datasets_needed if n.path in GATED]:
        print(f"NOTE {note}")
    failures = []
    for need in models:
        if args.dry_run:
            print(f"model {need.key}: {need.repo_id}")
            continue
        try:
            print(f"model {need.key}: {need.repo_id} → {download_model(need)}", flush=True)
        except Exception as error:  # one message per failure; the others still download
            failures.append(f"model {need.repo_id}: {type(error).__name__}: {error}")
    for need in datasets_needed:
        if args.dry_run:
            print(f"dataset {need.label} [{', '.join(need.users)}]")
            continue
        try:
            print(f"dataset {need.label}: {download_dataset(need)}", flush=True)
        except Exception as error:
            hint = f" ({GATED[need.path]})" if need.path in GATED else ""
            failures.append(f"dataset {need.label}: {type(error).__name__}: {error}{hint}")
    if failures:
        print(f"download: {len(failures)} item(s) failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("download: done" if not args.dry_run else "download: dry run, nothing fetched")


if __name__ == "__main__":
    main()
