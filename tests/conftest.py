"""Shared fixtures. Tests never read ../shared: what they need is in tests/fixtures/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _threads_as_the_policy_says():
    # The suite runs with every available core, or $STARGAN_THREADS, fixed for the whole session and for
    # the processes it starts (through the environment): a count that follows the machine's load (the
    # policy's default, stargan_lib.threads) changes float rounding, and the bit-exact resume and
    # reproducibility tests compare runs. Tests that compare two computations run both in this one process.
    import os

    from stargan_lib.threads import THREADS_ENV, available_cores, use_threads

    os.environ.setdefault(THREADS_ENV, str(available_cores()))
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
