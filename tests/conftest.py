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


# ------------------------------------------------------------ the two engines --
@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL on loopback for the whole run; skipped, with the reason
    printed, only where one cannot be started (see tests/pgserver.py)."""
    from tests.pgserver import PgServer

    why = PgServer.unavailable()
    if why:
        print(f"\nPostgreSQL tests skipped: {why}")
        pytest.skip(why)
    server = PgServer().start()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server):
    """An empty database on the shared server, for one test."""
    from store import db as store
    from store.pg import open_pg

    db = open_pg(pg_server.url)
    db.execute("DROP SCHEMA public CASCADE")
    db.execute("CREATE SCHEMA public")
    db._meta.clear()
    db.schema_ready = False
    store.open_db(pg_server.url)
    return pg_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    """The store on each engine: the store tests run against both."""
    from store import db as store

    if request.param == "sqlite":
        return store.open_db(":memory:")
    return store.open_db(request.getfixturevalue("pg_url"))
