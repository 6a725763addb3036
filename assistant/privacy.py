"""Masking personal data before anything is stored or logged: the one function
every question, comment, logged path and query string goes through.

    >>> mask("我的身份证号是511602199001011234，电话13812345678")
    '我的身份证号是5116**********1234，电话138****5678'
    >>> mask("卡号 6222 0212 3456 7890 123，手机 +86 138-1234-5678，邮箱 zhang.san@example.com")
    '卡号 6222***********0123，手机 +86 138****5678，邮箱 z***@example.com'
    >>> mask("护照E12345678")
    '护照E*******8'

Covered: resident ID numbers (18 and old 15 digits, also spaced or dashed),
mobiles (also +86, spaced or dashed), landlines, bank cards (16–19 digits, also
in groups), e-mail addresses and passport-style numbers (1–2 letters then 7–9
digits). Longer digit runs (item codes, 20+ digits) are left alone.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
# Chinese passports E/G/D/S/P + 8 digits (or EA1234567), HK/Macau permits H/M + 8–10
_PASSPORT = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{1,2})(\d{7,10})(?![0-9A-Za-z])")
# A run of digits, single spaces or dashes between them allowed (how people
# type card and phone numbers), an optional +86 in front, an ID's final X.
# A dash joining it to letters or digits makes it part of a code, not a number.
_NUMBER = re.compile(r"(?<![0-9A-Za-z+*])(?<![0-9A-Za-z]-)(\+?86[ \-－]?)?(\d(?:[ \-－]?\d){6,}(?:[ \-－]?[Xx])?)"
                     r"(?![0-9A-Za-z*])(?!-[0-9A-Za-z])")


def _digits(text: str) -> str:
    return re.sub(r"[^\dXx]", "", text)


def _masked_number(d: str) -> str | None:
    """The masked form of a bare digit string, or None to leave it as it is."""
    n = len(d)
    if d[-1] in "Xx" and n not in (15, 18):
        return None
    if n == 11 and d[0] == "1" and d[1] in "3456789":
        return d[:3] + "****" + d[-4:]
    if n in (15, 18) and d[0] != "0":
        return d[:4] + "*" * (n - 8) + d[-4:]
    if d[0] == "0" and 10 <= n <= 12:
        area = 3 if d[1] in "12" else 4
        return d[:area] + "-****" + d[-4:]
    if 16 <= n <= 19:
        return d[:4] + "*" * (n - 8) + d[-4:]
    return None


def _number(m: re.Match) -> str:
    prefix, body = m.group(1) or "", m.group(2)
    d = _digits(body)
    if prefix:
        masked = _masked_number(d)
        if masked is not None and len(d) == 11:
            return prefix + masked
        d = _digits(prefix) + d  # "86…" that is not a mobile: the whole run is one number
        masked = _masked_number(d)
        return m.group(0) if masked is None else masked
    masked = _masked_number(d)
    return m.group(0) if masked is None else masked


def mask(text: str) -> str:
    """Personal numbers and addresses with their middle starred."""
    text = _EMAIL.sub(lambda m: m.group(1) + "***@" + m.group(2), text)
    text = _PASSPORT.sub(lambda m: m.group(1) + "*" * (len(m.group(2)) - 1) + m.group(2)[-1], text)
    return _NUMBER.sub(_number, text)
