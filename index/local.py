"""At a site, one base item's implementations at several levels (三级四同):
the most local one leads.

    >>> ranked = prefer_own_area(ranked, area_codes.chain("440106"))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .search import Candidate


def prefer_own_area(ranked: list[Candidate], chain: list[str]) -> list[Candidate]:
    """At a site, of the implementations of one base item (三级四同) the one of the
    most local area leads, in the place of the group's best; the ones of the areas
    above go into its ``other_levels``. Variants at the same area stay apart."""
    local = {a: n for n, a in enumerate(chain)}
    best: dict[str, str | None] = {}
    top: dict[str, float] = {}
    for c in ranked:
        b = c.base_code
        if b:
            if b not in best or local.get(c.area_code, -1) > local.get(best[b], -1):
                best[b] = c.area_code
            top[b] = max(top.get(b, c.fused), c.fused)
    out: list[Candidate] = []
    leads: dict[str, Candidate] = {}
    others: list[Candidate] = []
    for c in ranked:
        b = c.base_code
        if b and c.area_code != best[b]:
            others.append(c)
            continue
        if b and b not in leads:
            leads[b] = c
            c.fused = top[b]
        out.append(c)
    for c in others:
        leads[c.base_code].other_levels.append(c)
    return sorted(out, key=lambda c: -c.fused)
