"""A realistic day of sensor readings and AI-video detections for the demo devices, for
``sanji alarms simulate`` and the broker benchmark.

Pure and deterministic: the same devices, day and seed give the same readings, with the same
message ids (so publishing a day twice ingests nothing new). Every device reports normal
values on its own interval (``interval_s``); on top of that, *episodes* change the day:

- a rain storm in the afternoon (rain gauges, then water levels at waterlogging spots rise),
- muck trucks caught at night by the cameras at construction-site exits,
- one sensor going silent in the morning and staying silent,
- a crowd building up at 解放碑 in the evening,
- a pollution plume down the 綦江 from 06:00 (``river_pollution``, with the knowledge's river
  network: ``demo.episodes.pollution_episode``).

An episode is a function of the :class:`Day` returning a :class:`Scene`: readings that replace
a device's regular reading at the same time (metrics) or come beside it (detections), and
devices that fall silent; an episode with a model of its own may take over whole devices
(``Scene.owns``). ``EPISODES`` is the list :func:`simulate_day` plays by default; more plug in
by appending to it, as the 綦江 river pollution episode does: it takes over every basin
station (``Scene.owns``) with readings from its own plume model."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from domain.alarms import Detection, Reading
from domain.clock import CHINA_TZ

#: the street of 解放碑 (渝中区解放碑街道), where the evening crowd builds up
JIEFANGBEI = "500103003"


@dataclass(frozen=True)
class SimDevice:
    """What the simulator needs of a registry entry (knowledge/data/devices/*.yaml)."""

    id: str
    kind: str
    name: str = ""
    street: str | None = None
    district: str | None = None
    lat: float | None = None
    lon: float | None = None
    interval_s: int = 300

    @classmethod
    def of(cls, entry: dict[str, Any]) -> SimDevice:
        return cls(
            id=str(entry["id"]),
            kind=str(entry["kind"]),
            name=str(entry.get("name", "")),
            street=str(entry["street"]) if entry.get("street") else None,
            district=str(entry["district"]) if entry.get("district") else None,
            lat=entry.get("lat"),
            lon=entry.get("lon"),
            interval_s=int(entry.get("interval_s") or 300),
        )


def load_devices(folder: Path) -> list[SimDevice]:
    """The devices of every ``*.yaml`` registry file in ``folder`` (validation is the
    knowledge loader's job; this reads what the simulator needs)."""
    devices: list[SimDevice] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        devices += [SimDevice.of(e) for e in data.get("devices") or []]
    return devices


@dataclass
class Scene:
    """What an episode does to the day."""

    readings: list[Reading] = field(default_factory=list)
    silent_from: dict[str, datetime] = field(default_factory=dict)  # device id → last moment
    #: devices whose whole day the episode writes (their regular readings are dropped): an
    #: episode with a model of its own, such as the river network's pollution plume
    owns: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Day:
    """The day being simulated, with helpers episodes use to speak like the base day."""

    devices: tuple[SimDevice, ...]
    day: date
    seed: int
    #: the knowledge, for episodes that need more than the devices (the river network)
    knowledge: Any = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(0, 0), CHINA_TZ)

    def at(self, hour: float) -> datetime:
        return self.start + timedelta(hours=hour)

    def rng(self, name: str) -> random.Random:
        """A generator of its own for each episode and device, so adding one changes no other."""
        digest = hashlib.sha256(f"{self.seed}:{self.day}:{name}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def times(self, device: SimDevice) -> list[datetime]:
        """When ``device`` reports during the day (a fixed phase per device)."""
        step = max(device.interval_s, 10)
        phase = self.rng(f"phase:{device.id}").randrange(step)
        return [self.start + timedelta(seconds=s) for s in range(phase, 24 * 3600, step)]

    def kind(self, *kinds: str) -> list[SimDevice]:
        return [d for d in self.devices if d.kind in kinds]

    def reading(
        self,
        device: SimDevice,
        at: datetime,
        metrics: dict[str, float] | None = None,
        detection: Detection | None = None,
        **attributes: Any,
    ) -> Reading:
        stamp = at.strftime("%Y%m%dT%H%M%S")
        suffix = f"-{detection.label}" if detection else ""
        return Reading(
            message_id=f"sim-{device.id}-{stamp}{suffix}",
            device_id=device.id,
            observed_at=at,
            metrics={k: round(v, 3) for k, v in (metrics or {}).items()},
            detection=detection,
            lat=device.lat,
            lon=device.lon,
            attributes=attributes,
        )


Episode = Callable[[Day], Scene]


def _hours(day: Day, at: datetime) -> float:
    return (at - day.start).total_seconds() / 3600


def _bell(x: float, peak: float, width: float) -> float:
    return math.exp(-(((x - peak) / width) ** 2))


# the ordinary day ------------------------------------------------------------------------


def _normal(day: Day, device: SimDevice, at: datetime, rng: random.Random) -> Reading | None:
    h = _hours(day, at)
    diurnal = math.sin((h - 9) / 24 * 2 * math.pi)  # warmest mid-afternoon
    g = rng.gauss
    if device.kind == "water_quality":
        m = {
            "do_mg_l": 7.4 + 0.7 * diurnal + g(0, 0.12),
            "nh3n_mg_l": max(0.05, 0.32 + g(0, 0.04)),
            "cod_mg_l": max(2.0, 13.5 + g(0, 1.2)),
            "ph": 7.6 + g(0, 0.06),
            "turbidity_ntu": max(1.0, 18 + g(0, 2.5)),
        }
    elif device.kind == "water_level":
        m = {"level_m": max(0.0, 0.02 + g(0, 0.005)), "rain_mm_h": 0.0}
    elif device.kind == "rain_gauge":
        m = {"rain_mm_h": 0.0}
    elif device.kind == "crowd_counter":
        busy = 0.25 + 0.45 * _bell(h, 12.5, 2.5) + 0.35 * _bell(h, 19.5, 2.0)
        people = max(0.0, 1800 * busy + g(0, 60))
        m = {"people": round(people), "density_per_m2": people / 6000}
    elif device.kind == "manhole":
        m = {"tilt_deg": abs(0.6 + g(0, 0.15)), "water_level_m": max(0.0, 0.35 + g(0, 0.02))}
    elif device.kind == "gas":
        m = {"ch4_pct_lel": max(0.0, 0.8 + g(0, 0.3))}
    elif device.kind == "ai_video":
        return day.reading(device, at, heartbeat=True)
    else:
        return None
    return day.reading(device, at, m)


# the episodes ----------------------------------------------------------------------------


def rain_storm(day: Day) -> Scene:
    """A summer storm from about 14:00 to 17:30, heaviest around 15:30 (up to about 70 mm/h:
    a 暴雨 hour), with water rising at waterlogging spots and in manholes some 20 minutes
    behind the rain and draining by the evening."""
    scene = Scene()
    for d in day.kind("rain_gauge", "water_level", "manhole"):
        rng = day.rng(f"storm:{d.id}")
        peak_h = 15.5 + rng.uniform(-0.3, 0.3)
        intensity = rng.uniform(45, 72)
        depth = rng.uniform(0.3, 0.55)  # the spot's worst ponding, metres
        for at in day.times(d):
            h = _hours(day, at)
            if not 13.5 <= h <= 19.5:
                continue
            rain = max(0.0, intensity * _bell(h, peak_h, 0.8) + rng.gauss(0, 1.5))
            water = depth * _bell(h, peak_h + 0.35, 0.9)
            if d.kind == "rain_gauge":
                m = {"rain_mm_h": rain}
            elif d.kind == "water_level":
                m = {"level_m": 0.02 + water + rng.gauss(0, 0.01), "rain_mm_h": rain}
            else:
                m = {"tilt_deg": abs(0.6 + rng.gauss(0, 0.15)), "water_level_m": 0.35 + water}
            scene.readings.append(day.reading(d, at, m))
    return scene


def _site_exits(day: Day) -> list[SimDevice]:
    cams = day.kind("ai_video")
    exits = [c for c in cams if any(w in c.name for w in ("工地", "出口", "渣土", "施工"))]
    return exits or cams[: max(1, len(cams) // 3)]


def muck_trucks(day: Day) -> Scene:
    """Muck trucks leaving construction sites at night (渣土车 run after 22:00 and before
    dawn), some uncovered or shedding mud: a detection every 10–40 minutes per exit."""
    scene = Scene()
    for cam in _site_exits(day):
        rng = day.rng(f"muck:{cam.id}")
        for start, end in ((0.0, 5.0), (22.0, 24.0)):
            h = start + rng.uniform(0.1, 0.6)
            while h < end:
                at = day.at(h).replace(microsecond=0)
                detection = Detection(
                    label="muck_truck",
                    confidence=round(rng.uniform(0.78, 0.97), 2),
                    image_ref=f"sim://frames/{cam.id}/{at:%Y%m%dT%H%M%S}.jpg",
                )
                scene.readings.append(day.reading(cam, at, detection=detection))
                h += rng.uniform(10, 40) / 60
    return scene


def silent_sensor(day: Day) -> Scene:
    """One sensor stops reporting at 10:20 and stays silent (a flat battery, a cut cable)."""
    for kinds in (("manhole",), ("gas",), ("water_level", "rain_gauge"), ("crowd_counter",)):
        candidates = sorted(day.kind(*kinds), key=lambda d: d.id)
        if candidates:
            victim = day.rng("silent").choice(candidates)
            return Scene(silent_from={victim.id: day.at(10 + 20 / 60)})
    return Scene()


def evening_crowd(day: Day) -> Scene:
    """People gather at 解放碑 from 18:00, densest around 21:00 (over 4 people/m²), thinning
    out by 23:00; its cameras see the crowd at the peak."""
    scene = Scene()

    def here(d: SimDevice) -> bool:
        return d.street == JIEFANGBEI or "解放碑" in d.name

    for d in [d for d in day.kind("crowd_counter") if here(d)]:
        rng = day.rng(f"crowd:{d.id}")
        for at in day.times(d):
            h = _hours(day, at)
            if not 17.5 <= h <= 23.5:
                continue
            density = 0.4 + 3.9 * _bell(h, 21.0, 1.3) + rng.gauss(0, 0.08)
            scene.readings.append(
                day.reading(d, at, {"people": round(density * 6000), "density_per_m2": density})
            )
    for cam in [d for d in day.kind("ai_video") if here(d)]:
        rng = day.rng(f"crowd-cam:{cam.id}")
        for minute in range(20 * 60 + 30, 21 * 60 + 40, 15):
            at = day.at(minute / 60).replace(second=rng.randrange(60), microsecond=0)
            detection = Detection(
                label="crowd",
                confidence=round(rng.uniform(0.82, 0.95), 2),
                image_ref=f"sim://frames/{cam.id}/{at:%Y%m%dT%H%M%S}.jpg",
            )
            scene.readings.append(day.reading(cam, at, detection=detection))
    return scene


#: the episodes a simulated day plays, in order (later ones win on the same device and time)
def river_pollution(day: Day) -> Scene:
    """The 綦江 basin's stations for the whole day, with the outfall at 沱湾 (``qj-s09``)
    discharging from 06:00 for six hours: oxygen falls and ammonia rises station after station
    downstream, in travel-time order, while the stations above it stay clean. Needs the
    knowledge's river network (``Day.knowledge``); without it the day has no such episode."""
    k = day.knowledge
    if k is None or not getattr(k, "rivers", None) or not k.rivers.stations:
        return Scene()
    from demo.episodes import pollution_episode

    episode = pollution_episode(
        k, source="qj-s09", day=day.start, starts_at=day.at(6), seed=day.seed
    )
    return Scene(readings=episode.readings, owns={r.device_id for r in episode.readings})


EPISODES: list[Episode] = [rain_storm, muck_trucks, silent_sensor, evening_crowd, river_pollution]


def simulate_day(
    devices: Sequence[SimDevice],
    day: date,
    *,
    seed: int = 7,
    episodes: Iterable[Episode] | None = None,
    knowledge: Any = None,
) -> list[Reading]:
    """Every reading of ``devices`` on ``day`` (Beijing time), in time order."""
    d = Day(tuple(devices), day, seed, knowledge)
    by_slot: dict[tuple[str, datetime, str | None], Reading] = {}
    for device in d.devices:
        rng = d.rng(f"normal:{device.id}")
        for at in d.times(device):
            r = _normal(d, device, at, rng)
            if r is not None:
                by_slot[(device.id, at, None)] = r
    silent: dict[str, datetime] = {}
    for episode in EPISODES if episodes is None else episodes:
        scene = episode(d)
        if scene.owns:
            by_slot = {slot: r for slot, r in by_slot.items() if slot[0] not in scene.owns}
        for r in scene.readings:
            label = r.detection.label if r.detection else None
            by_slot[(r.device_id, r.observed_at, label)] = r
        silent.update(scene.silent_from)
    out = [
        r
        for (device_id, at, _), r in by_slot.items()
        if device_id not in silent or at < silent[device_id]
    ]
    out.sort(key=lambda r: (r.observed_at, r.device_id, r.key))
    return out
