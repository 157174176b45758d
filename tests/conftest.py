"""Shared fixtures: the tiny Hugging Face cache of the paper's models and datasets."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory) -> Path:
    """An HF_HOME holding every model and dataset of config/paper.yaml (tests/hub_fixture.py).
    Session-scoped and read-only: a test that removes files works on a copy. Building takes
    about a minute; SINKPRUNE_TEST_HF_HOME may name one built before with
    `python tests/hub_fixture.py DIR` to reuse it."""
    import os

    from hub_fixture import build_hub_cache

    reuse = os.environ.get("SINKPRUNE_TEST_HF_HOME")
    if reuse:
        return Path(reuse)
    return build_hub_cache(tmp_path_factory.mktemp("hf_home"))


@pytest.fixture
def offline_hub(hub_home, monkeypatch) -> Path:
    """``hub_home`` as this test's HF_HOME, offline; returns its hub/ directory."""
    monkeypatch.setenv("HF_HOME", str(hub_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_DATASETS_CACHE", raising=False)
    return hub_home / "hub"

