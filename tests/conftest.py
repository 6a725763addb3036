"""Shared fixtures.

Tests that only read use the state ``make setup`` prepared (``WENBAN_HOME``,
default ``var/``): the converted model, both catalogues and their indexes.
Tests that write get a fresh home under pytest's tmp_path, with the same model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wenban.config import REPO_ROOT, Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    s = Settings.from_env()
    if not (s.model_path / "modules.json").exists() or not s.db_path.exists():
        pytest.fail(f"no prepared state in {s.home}: run 'make setup' (or 'wenban setup') first")
    return s


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
    return REPO_ROOT / "data"
