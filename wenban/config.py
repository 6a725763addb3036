"""Settings, read from the environment once.

All runtime state (database, converted model, built indexes, logs) lives under
one folder, ``WENBAN_HOME`` (default ``./var``), which git ignores.

    >>> s = Settings.from_env({"WENBAN_HOME": "/tmp/w"})
    >>> str(s.db_path)
    '/tmp/w/wenban.db'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
# The published catalogues are other people's data: they are read from beside the
# checkout (../shared/data/catalogues), never committed into this repository.
DEFAULT_SOURCES = REPO_ROOT.parent / "shared" / "data" / "catalogues"
DEFAULT_MODEL_NAME = "multilingual-e5-small"

# Nothing may download at run time: government intranets have no internet.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Loading bars from transformers/hub are noise in a CLI whose stdout is JSON.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _resolve(path: str | None) -> Path | None:
    """A relative WENBAN_SOURCES is taken against the repository root, not the cwd."""
    if not path:
        return None
    p = Path(path)
    return (p if p.is_absolute() else REPO_ROOT / p).resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    model: Path | None = None  # a sentence-transformers folder; None = the converted default
    index_type: str = "flat"  # flat | hnsw | ivf
    embed_dtype: str = "bf16"  # bf16 | fp32, for the query-time model
    embed_backend: str = "torch"  # torch | onnx: what runs the question embedding
    embed_adapter: Path | None = None  # a query adapter file from `wenban train`; None = base model
    threads: int = 2
    admin_token: str | None = None  # no token: the admin routes are off
    # WENBAN_SOURCES: the folder the bundled catalogue files (data/catalogues.json
    # names them relative to it) are read from by `wenban setup`.
    sources: Path = DEFAULT_SOURCES
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        model = env.get("WENBAN_MODEL")
        return cls(
            home=Path(env.get("WENBAN_HOME", "var")).resolve(),
            model=Path(model).resolve() if model else None,
            index_type=env.get("WENBAN_INDEX_TYPE", "flat"),
            embed_dtype=env.get("WENBAN_EMBED_DTYPE", "bf16"),
            embed_backend=env.get("WENBAN_EMBED_BACKEND", "torch"),
            embed_adapter=_resolve(env.get("WENBAN_EMBED_ADAPTER")),
            threads=int(env.get("WENBAN_THREADS", "2")),
            admin_token=env.get("WENBAN_ADMIN_TOKEN") or None,
            sources=_resolve(env.get("WENBAN_SOURCES")) or DEFAULT_SOURCES,
        )

    @property
    def db_path(self) -> Path:
        return self.home / "wenban.db"

    @property
    def model_path(self) -> Path:
        return self.model or (self.home / "models" / DEFAULT_MODEL_NAME)

    @property
    def uses_default_model(self) -> bool:
        return self.model is None

    @property
    def index_dir(self) -> Path:
        return self.home / "indexes"

    @property
    def cache_path(self) -> Path:
        return self.home / "embedding-cache.db"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"
