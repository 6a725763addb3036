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
# The default model with its top layers tuned on this domain (index/tune.py, data/models/).
TUNED_MODEL_NAME = "e5-small-wenban"

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


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off; anything else is an error."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (true/false), not {env[name]!r}")


@dataclass(frozen=True)
class Settings:
    home: Path
    model: Path | None = None  # a sentence-transformers folder; None = the converted default
    index_type: str = "flat"  # flat | hnsw | ivf
    embed_dtype: str = "bf16"  # bf16 | fp32, for the query-time model
    # WENBAN_EMBED_BACKEND: what runs the question embedding. onnx (default): ONNX Runtime
    # on an fp32 export of the model, same vectors as torch (cosine ≥ 0.9999), ~1.6× faster
    # per question and free-threaded; onnx-int8: int8 matrix products, ~2× faster again,
    # cosine ≥ 0.99; torch: the model itself (bf16). Index builds always use torch.
    embed_backend: str = "onnx"
    embed_adapter: Path | None = None  # a query adapter file from `wenban train`; None = base model
    # WENBAN_EMBED_TUNED=1: the default model with the tuned layers of data/models/e5-small-wenban
    # laid over it (index/tune.py); 0: the base model. Ignored when WENBAN_MODEL names a folder.
    embed_tuned: bool = False
    threads: int = 2
    admin_token: str | None = None  # no token: the admin routes are off
    # WENBAN_SOURCES: the folder the bundled catalogue files (data/catalogues.json
    # names them relative to it) are read from by `wenban setup`.
    sources: Path = DEFAULT_SOURCES
    # WENBAN_DATABASE_URL: postgresql://… puts the shared store (catalogues, feedback,
    # the unanswered log, sessions …) in PostgreSQL so several processes or machines
    # serve one deployment; unset, the store is the SQLite file under WENBAN_HOME.
    database_url: str | None = None
    # WENBAN_POLL_SECONDS: how often a serving process looks for new catalogue versions
    # in the store (and builds or loads their index); 0 turns the watch off.
    poll_seconds: float = 2.0
    # Imports: a spreadsheet that unpacks past these is refused before it is
    # read (a 564 KB XLSX can hold a million rows); error reports list the
    # first ``import_max_errors`` problems and the count.
    import_max_rows: int = 100_000
    import_max_unzipped_mb: int = 256
    import_max_errors: int = 100
    # Stored questions (unanswered log) and feedback comments are deleted after
    # this many days, at start and daily; 0 keeps them.
    retention_days: int = 180
    # How long a write waits for another writer before giving up.
    db_busy_ms: int = 10_000
    # HTTP service limits (api/security.py, api/audit.py, api/app.py), one per line:
    max_body_bytes: int = 16 * 1024  # WENBAN_MAX_BODY: JSON bodies of public routes; admin import has its own cap
    rate_limit: str = "300/minute"  # WENBAN_RATE_LIMIT: per client on /api/ routes ("" or "off": none)
    trusted_proxies: tuple[str, ...] = ()  # WENBAN_TRUSTED_PROXIES: peers whose X-Forwarded-For is believed
    admin_max_failures: int = 5  # WENBAN_ADMIN_MAX_FAILURES: wrong tokens before a client is locked out
    admin_lockout_seconds: int = 900  # WENBAN_ADMIN_LOCKOUT: how long the lockout lasts
    ask_workers: int = 2  # WENBAN_ASK_WORKERS: questions computed at once (the embedder is the bottleneck)
    ask_queue: int = 64  # WENBAN_ASK_QUEUE: questions waiting beyond those; more get 503 + Retry-After
    # the pages: the hall's name on printouts, its time zone for the quality page,
    # and a kiosk locked to one catalogue (empty: the citizen chooses)
    hall_name: str = ""
    timezone: str = "Asia/Shanghai"
    kiosk_catalogue: str = ""
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
            embed_backend=env.get("WENBAN_EMBED_BACKEND", "onnx"),
            embed_adapter=_resolve(env.get("WENBAN_EMBED_ADAPTER")),
            embed_tuned=_flag(env, "WENBAN_EMBED_TUNED", False),
            threads=int(env.get("WENBAN_THREADS", "2")),
            admin_token=env.get("WENBAN_ADMIN_TOKEN") or None,
            sources=_resolve(env.get("WENBAN_SOURCES")) or DEFAULT_SOURCES,
            database_url=env.get("WENBAN_DATABASE_URL") or None,
            poll_seconds=float(env.get("WENBAN_POLL_SECONDS", "2")),
            import_max_rows=int(env.get("WENBAN_IMPORT_MAX_ROWS", "100000")),
            import_max_unzipped_mb=int(env.get("WENBAN_IMPORT_MAX_UNZIPPED_MB", "256")),
            import_max_errors=int(env.get("WENBAN_IMPORT_MAX_ERRORS", "100")),
            retention_days=int(env.get("WENBAN_RETENTION_DAYS", "180")),
            db_busy_ms=int(env.get("WENBAN_DB_BUSY_MS", "10000")),
            max_body_bytes=int(env.get("WENBAN_MAX_BODY", 16 * 1024)),
            rate_limit=env.get("WENBAN_RATE_LIMIT", "300/minute"),
            trusted_proxies=tuple(p.strip() for p in env.get("WENBAN_TRUSTED_PROXIES", "").split(",") if p.strip()),
            admin_max_failures=int(env.get("WENBAN_ADMIN_MAX_FAILURES", "5")),
            admin_lockout_seconds=int(env.get("WENBAN_ADMIN_LOCKOUT", "900")),
            ask_workers=int(env.get("WENBAN_ASK_WORKERS", "2")),
            ask_queue=int(env.get("WENBAN_ASK_QUEUE", "64")),
            hall_name=env.get("WENBAN_HALL_NAME", ""),
            timezone=env.get("WENBAN_TIMEZONE") or "Asia/Shanghai",
            kiosk_catalogue=env.get("WENBAN_KIOSK_CATALOGUE", ""),
        )

    @property
    def db_path(self) -> Path:
        return self.home / "wenban.db"

    @property
    def database(self) -> str | Path:
        """What ``store.db.open_db`` opens: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def model_path(self) -> Path:
        return self.model or (self.home / "models" / (TUNED_MODEL_NAME if self.embed_tuned else DEFAULT_MODEL_NAME))

    @property
    def base_model_path(self) -> Path:
        """The converted default model (what the tuned layers are laid over)."""
        return self.home / "models" / DEFAULT_MODEL_NAME

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
    def uploads_dir(self) -> Path:
        """Uploaded import files while they are read; swept at start."""
        return self.home / "uploads"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"
