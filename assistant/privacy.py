"""Masking personal numbers before anything is logged.

    >>> mask("我的身份证号是511602199001011234，电话13812345678")
    '我的身份证号是5116**********1234，电话138****5678'
"""

from __future__ import annotations

import re

# 18-digit resident ID (last may be X), or the old 15-digit one; not inside longer digit runs
_ID = re.compile(r"(?<!\d)(\d{4})\d{10}(\d{3}[\dXx])(?![\dXx])|(?<!\d)(\d{4})\d{7}(\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[-－ ]?\d{3,4}(\d{4})(?!\d)")


def _id(m: re.Match) -> str:
    if m.group(1):
        return m.group(1) + "*" * 10 + m.group(2)
    return m.group(3) + "*" * 7 + m.group(4)


def mask(text: str) -> str:
    """ID-card, mobile and landline numbers with their middle digits starred."""
    text = _ID.sub(_id, text)
    text = _MOBILE.sub(lambda m: m.group(1) + "****" + m.group(2), text)
    return _LANDLINE.sub(lambda m: m.group(1) + "-****" + m.group(2), text)
