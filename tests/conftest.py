"""Shared fixtures.

Tests start from the state ``make setup`` prepared (``WENBAN_HOME``, default
``var/``): the converted model, both catalogues and their indexes. They work
on a copy of it (the store, indexes and embedding cache; the model is shared,
read-only), so what they log or import never lands in the real home.
Tests that need an empty home get a fresh one under pytest's tmp_path.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wenban.config import REPO_ROOT, Settings


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    import shutil

    real = Settings.from_env()
    if not (real.model_path / "modules.json").exists() or not real.db_path.exists():
        pytest.fail(f"no prepared state in {real.home}: run 'make setup' (or 'wenban setup') first")
    home = tmp_path_factory.mktemp("home")
    for name in ("wenban.db", "embedding-cache.db"):
        if (real.home / name).exists():
            shutil.copy(real.home / name, home / name)
    shutil.copytree(real.index_dir, home / "indexes")
    return replace(real, home=home, model=real.model_path)


@pytest.fixture(scope="session")
def embedder(settings):
    from index.embedder import Embedder

    return Embedder(settings, log=lambda *a: None)


@pytest.fixture(scope="session")
def assistant(settings, embedder):
    from assistant.answer import Assistant

    return Assistant(settings, embedder=embedder, log=lambda *a: None)


@pytest.fixture
def tmp_settings(settings, tmp_path) -> Settings:
    """A fresh, empty home that still uses the prepared model (never converted twice)."""
    return replace(settings, home=tmp_path / "home", model=settings.model_path)


@pytest.fixture
def data_dir() -> Path:
    """The project's own data (vocabulary, calibration, catalogues.json)."""
    return REPO_ROOT / "data"


@pytest.fixture(scope="session")
def sources() -> Path:
    """The published catalogue files, read through WENBAN_SOURCES like `wenban setup` does."""
    path = Settings.from_env().sources
    if not path.is_dir():
        pytest.fail(f"no catalogue sources at {path}: set WENBAN_SOURCES (see README, Data)")
    return path
