"""The local Hugging Face cache every stage reads: what a checkpoint download fetches and how a
compute job is kept offline.

Compute jobs never download: they call :func:`use_offline_cache` and read the cache that
`snakemake download` filled, because cluster nodes often have no network and a job that
silently downloads 16 GB per model would also race with its neighbours. What a config needs from
the hub is :mod:`sinkprune.hub_needs`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# What the loader and the tokenizer read from a checkpoint (snapshot_download allow patterns):
# config and generation config, tokenizer files (tokenizer.json, or vocab.json + merges.txt for
# Dream), the safetensors weights and their index. Remote code (*.py) is never run, so not fetched.
CHECKPOINT_FILES = ("*.json", "*.safetensors", "tokenizer*", "*.jinja", "*.txt", "*.model")
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

def use_offline_cache() -> None:
    """Make huggingface_hub, transformers and datasets read the local cache only (call before
    importing them). A user who exports HF_HUB_OFFLINE=0 keeps network access."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def is_hub_id(path: str) -> bool:
    """True when ``path`` names a hub repo rather than an existing local directory."""
    return not Path(path).expanduser().exists() and bool(REPO_ID.fullmatch(path)) \
        and not path.startswith((".", "/", "~"))
