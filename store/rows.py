"""What every catalogue importer shares: limits, row errors, cell cleaning and
decoding. ``ImportFailed`` lists every problem (file, row, field, reason);
nothing is written when it is raised.

    >>> clean(" 暂无 ") is None
    True
    >>> split_list("身份证；户口簿")
    ['身份证', '户口簿']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import TYPE_SYNONYMS
from .urls import safe_url

MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_REPORTED_ERRORS = 100  # an error report lists this many problems, then the count


@dataclass(frozen=True)
class Limits:
    """What an import may hold; ``Settings`` carries the configured values.

        >>> Limits.from_settings(Settings.from_env())       # doctest: +SKIP
    """

    max_rows: int = 100_000
    max_unzipped_bytes: int = 256 * 1024 * 1024
    max_errors: int = MAX_REPORTED_ERRORS

    @classmethod
    def from_settings(cls, settings: Any) -> "Limits":
        return cls(settings.import_max_rows, settings.import_max_unzipped_mb * 1024 * 1024,
                   settings.import_max_errors)


DEFAULT_LIMITS = Limits()
PLACEHOLDERS = {"", "无", "暂无", "/", "-", "—", "--", "null", "None", "NULL"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    file: str
    row: int | str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}: {self.field}: {self.reason}"


class ImportFailed(Exception):
    """Raised with the row problems found; nothing has been written.
    ``errors`` holds the first ``max_errors`` of them, ``total`` counts all."""

    def __init__(self, errors: list[RowError], max_errors: int = MAX_REPORTED_ERRORS):
        self.total = len(errors)
        self.errors = errors[:max_errors]
        shown = "\n".join(f"  {e}" for e in self.errors)
        more = f"\n  … and {self.total - len(self.errors)} more" if self.total > len(self.errors) else ""
        super().__init__(f"import failed, nothing was written ({self.total} problem(s)):\n{shown}{more}")


def url_field(value: Any, fname: str, where: Any, fld: str, errors: list[RowError]) -> str | None:
    """A link cell: empty → None, http(s) → the link, anything else → a row error."""
    text = clean(value)
    if text is None:
        return None
    url = safe_url(text)
    if url is None:
        errors.append(RowError(fname, where, fld, f"not an http(s) link: {text[:60]!r}"))
    return url


def clean(value: Any) -> str | None:
    """Text as stored: control characters dropped, placeholders such as "无" → None."""
    if value is None:
        return None
    text = _CONTROL.sub("", str(value)).strip()
    return None if text in PLACEHOLDERS else text


def split_list(value: Any, seps: str = r"[\n；;]") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        parts = [clean(v) for v in value]
    else:
        parts = [clean(v) for v in re.split(seps, str(value))]
    parts = [p for p in parts if p]
    return parts or None


def normalize_type(value: str | None) -> str | None:
    if value is None:
        return None
    value = TYPE_SYNONYMS.get(value, value)
    return value


def read_text(path: Path, max_bytes: int = MAX_IMPORT_BYTES) -> tuple[str, str]:
    """Decode a text file: UTF-8 (with or without BOM), UTF-16 with BOM, or GBK/GB18030,
    the encodings Chinese office software writes. Returns (text, encoding)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ImportFailed([RowError(str(path), "-", "file",
                                     f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")])
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        line = raw[: utf8_error.start].count(b"\n") + 1
        raise ImportFailed([RowError(str(path), line, "file",
                                     "text is neither UTF-8 nor GBK/GB18030; save the file as UTF-8")]) from None


def check_rows(count: int, fname: str, limits: Limits) -> None:
    if count > limits.max_rows:
        raise ImportFailed([RowError(fname, count, "file", f"more than {limits.max_rows} rows "
                                     "(WENBAN_IMPORT_MAX_ROWS); split the file or raise the limit")])


def list_field(fld: str, value: Any) -> Any:
    if fld == "materials":
        if isinstance(value, list):
            out = []
            for v in value:
                if isinstance(v, dict):
                    mname = clean(v.get("name") or v.get("名称") or v.get("材料名称"))
                    if mname:
                        out.append({"name": mname, "note": clean(v.get("note") or v.get("备注") or v.get("要求"))})
                elif clean(v):
                    out.append({"name": clean(v)})
            return out or None
        return [{"name": m} for m in split_list(value) or []] or None
    if fld == "steps":
        return split_list(value, r"\n|→|->|；|;")
    return split_list(value, r"[\n；;、，,]")


def check_unique(items: list[dict[str, Any]], fname: str, errors: list[RowError]) -> None:
    """Report repeated codes by row; drops the ``_row`` bookkeeping key."""
    seen: dict[str, Any] = {}
    for i, it in enumerate(items):
        code = it.get("code")
        row = it.pop("_row", i + 1)
        if not code:
            continue
        if code in seen:
            errors.append(RowError(fname, row, "事项编码", f"duplicate code {code} (first at row {seen[code]})"))
        else:
            seen[code] = row
