"""Links from catalogue data: only http(s) ever reaches a page or a QR code.

A guide link is shown as a link and encoded in a QR code, so a stored
``javascript:`` link would run in the kiosk. Imports refuse such rows and the
answer card drops such a stored link (listing it as missing).
"""

from __future__ import annotations

import html
import re
from typing import Any


def safe_url(value: Any) -> str | None:
    """``value`` as an http(s) link, or None when it is anything else.

    Browsers ignore tabs and newlines inside a URL and decode entities in
    attributes, so "java\\nscript:", "&#106;avascript:" and " JavaScript:" are
    all scripts: the scheme is judged after undoing those.

        >>> safe_url(" https://www.gdzwfw.gov.cn/x?a=1&amp;b=2 ")
        'https://www.gdzwfw.gov.cn/x?a=1&b=2'
        >>> safe_url("java\\nscript:alert(1)") is None
        True
    """
    if not isinstance(value, str):
        return None
    text = value
    for _ in range(3):  # entities inside entities
        text = html.unescape(text)
    # what a browser does: tabs and newlines anywhere dropped, the ends trimmed
    text = re.sub(r"[\t\n\r]+", "", text).strip("\x00\x20\u00a0\u3000\x0b\x0c")
    if re.search(r"[\x00-\x1f\x7f]", text):
        return None
    text = text.replace(" ", "%20")
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", text)
    if not m or m.group(1).lower() not in ("http", "https"):
        return None
    rest = text[m.end():]
    if not rest.startswith("//") or len(rest) <= 2 or rest[2] in "/\\":
        return None  # no host
    return m.group(1).lower() + ":" + rest
