"""Sites: a hall, a kiosk or a hotline, each configured with the area it serves.

``data/sites.json`` names them; a bare 行政区划代码 works as a site too (the
operator console searching any area). A question asked at a site is answered
from the items of its area and the areas above it (``store.areas.chain``).

    >>> sites = Sites.load()
    >>> sites.get("广州市政务服务中心").area_code
    '440100'
    >>> resolve_site(sites, "440106", "guangdong", lambda code: ["guangdong"]).name
    '天河区'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from store import areas
from wenban.config import DATA_DIR

SITES_PATH = DATA_DIR / "sites.json"
KINDS = ("hall", "kiosk", "hotline", "area")


class BadSite(LookupError):
    """A site we cannot use; the message is in Chinese and English."""


@dataclass(frozen=True)
class Site:
    name: str
    area_code: str
    catalogue: str
    kind: str = "hall"
    area: str | None = None  # the area's name

    def public(self) -> dict:
        return asdict(self)


class Sites:
    """The configured sites, by name."""

    def __init__(self, sites: list[Site]):
        self.by_name = {s.name: s for s in sites}

    @classmethod
    def load(cls, path: Path = SITES_PATH) -> "Sites":
        if not path.exists():
            return cls([])
        raw = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for n, s in enumerate(raw.get("sites", []), start=1):
            try:
                code = areas.normalize_code(s["area_code"])
            except (KeyError, areas.BadArea) as e:
                raise ValueError(f"{path}: site {n}: area_code: {e}") from None
            if s.get("kind", "hall") not in KINDS:
                raise ValueError(f"{path}: site {n}: kind must be one of {', '.join(KINDS)}")
            if not s.get("name") or not s.get("catalogue"):
                raise ValueError(f"{path}: site {n}: name and catalogue are required")
            out.append(Site(s["name"], code, s["catalogue"], s.get("kind", "hall"), areas.area_name(code)))
        return cls(out)

    def get(self, name: str) -> Site | None:
        return self.by_name.get(name)

    def all(self) -> list[Site]:
        return list(self.by_name.values())


def resolve_site(sites: Sites, site: str, catalogue: str | None,
                 catalogues_serving: Callable[[str], list[str]], area_names: dict[str, str] | None = None) -> Site:
    """A configured site's name, or a 行政区划代码 (6 or 12 digits), → ``Site``.

    With a code and no catalogue, the catalogue is the one whose items serve the
    area (``catalogues_serving(code)``); more than one needs ``catalogue``.
    """
    text = (site or "").strip()
    found = sites.get(text)
    if found:
        if catalogue and catalogue != found.catalogue:
            raise BadSite(f"服务点“{text}”使用目录 {found.catalogue}，不是 {catalogue} / "
                          f"site {text!r} answers from catalogue {found.catalogue!r}, not {catalogue!r}")
        return found
    if not text.isdigit():
        raise BadSite(f"没有名为“{text}”的服务点，也不是行政区划代码 / "
                      f"no site named {text!r}, and it is not a 6- or 12-digit area code")
    try:
        code = areas.normalize_code(text)
    except areas.BadArea as e:
        raise BadSite(f"行政区划代码有误 / bad area code: {e}") from None
    if catalogue is None:
        serving = catalogues_serving(code)
        if not serving:
            raise BadSite(f"没有为 {code} 服务的目录 / no catalogue has items serving area {code}")
        if len(serving) > 1:
            raise BadSite(f"多个目录为 {code} 服务，请指定目录 / several catalogues serve {code} "
                          f"({', '.join(serving)}): add the catalogue")
        catalogue = serving[0]
    name = areas.area_name(code, area_names) or code
    return Site(name, code, catalogue, "area", areas.area_name(code, area_names))
