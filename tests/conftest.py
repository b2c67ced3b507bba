"""Shared fixtures. Tests never read ../shared: what they need is in tests/fixtures/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _threads_as_the_policy_says():
    # The suite runs as a student's run does: every available core (stargan_lib.threads), or
    # $STARGAN_THREADS. Tests that compare two computations run both in this one process.
    from stargan_lib.threads import use_threads

    use_threads()


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch) -> Path:
    """An empty data cache for this test (metric weights keep their provisioned location)."""
    from stargan_lib.utils import cache_root

    weights = cache_root() / "weights"
    monkeypatch.setenv("STARGAN_WEIGHTS", str(weights))
    monkeypatch.setenv("STARGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
