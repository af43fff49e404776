"""Seeded perception episodes: a day of readings with something planted in it, so tracing and
the alarm pipeline can be shown and measured against a known truth.

``pollution_episode`` plants one registered source of the river network discharging from a
given time: downstream stations see dissolved oxygen fall for many readings in a row, in the
order the water reaches them, with 氨氮, COD, turbidity or pH moving as that kind of source
makes them move, weaker the further they are; upstream stations and other branches stay
normal. Every station has its own clean level, a daily oxygen cycle, sensor noise, rare spikes
and rare missing readings."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.alarms import Reading
from domain.clock import CHINA_TZ, to_utc
from knowledge import Knowledge
from knowledge.rivers import WATER_METRICS

#: what one source of each kind does to the water just below it, at full strength
EFFECTS: dict[str, dict[str, float]] = {
    "outfall": {"do_mg_l": -5.5, "nh3n_mg_l": 2.5, "cod_mg_l": 18, "turbidity_ntu": 35, "ph": 0},
    "sewage_plant": {"do_mg_l": -5.0, "nh3n_mg_l": 3.0, "cod_mg_l": 15, "turbidity_ntu": 2},
    "livestock": {"do_mg_l": -5.0, "nh3n_mg_l": 4.0, "cod_mg_l": 22, "turbidity_ntu": 3},
    "industrial": {"do_mg_l": -4.2, "nh3n_mg_l": 0.05, "cod_mg_l": 28, "ph": -1.3},
    "construction": {"do_mg_l": -0.2, "cod_mg_l": 1.0, "turbidity_ntu": 300},
}
#: sensor noise (standard deviation) per metric
NOISE = {"do_mg_l": 0.12, "nh3n_mg_l": 0.03, "cod_mg_l": 0.6, "ph": 0.04, "turbidity_ntu": 1.5}
#: km over which a plume thins to 1/e by dilution and decay
DILUTION_KM = 80.0


@dataclass(frozen=True)
class PollutionEpisode:
    """The readings of every basin station over the day, and the truth they hide."""

    source: str
    kind: str
    starts_at: datetime
    hours: float
    readings: list[Reading]
    #: device id -> when the plume's front reaches it (stations downstream of the source)
    arrivals: dict[str, datetime] = field(default_factory=dict)

    @property
    def alarm_metric(self) -> str:
        """The metric an alarm on this episode is about: oxygen, or turbidity for a site."""
        return "turbidity_ntu" if self.kind == "construction" else "do_mg_l"


def _plume(t: float, arrive: float, rise: float, hours: float) -> float:
    """Share of full strength at ``t`` hours of a plume arriving at ``arrive``: a ramp up over
    ``rise``, a plateau while the source discharges, a ramp down."""
    if t < arrive:
        return 0.0
    if t < arrive + rise:
        return (t - arrive) / rise
    if t < arrive + hours:
        return 1.0
    return max(0.0, 1.0 - (t - arrive - hours) / (rise + 0.5))


@dataclass(frozen=True)
class Plume:
    """A planted discharge as the stations downstream see it: what it adds to each metric of
    a station at a time. A simulator that has its own ordinary readings (``sanji alarms
    simulate``) adds ``effect(device, at)`` to them; ``pollution_episode`` makes a whole day."""

    source: str
    kind: str
    starts_at: datetime
    hours: float
    #: device id -> (hours the water takes from the source, share left after dilution)
    reach: dict[str, tuple[float, float]]

    def arrival(self, device_id: str) -> datetime | None:
        """When the plume's front reaches a station (None: it never does)."""
        if device_id not in self.reach:
            return None
        return self.starts_at + timedelta(hours=self.reach[device_id][0])

    def effect(self, device_id: str, at: datetime) -> dict[str, float]:
        """What the plume adds to each metric of ``device_id`` at ``at`` (empty: nothing)."""
        if device_id not in self.reach:
            return {}
        tau, scale = self.reach[device_id]
        t = (to_utc(at) - self.starts_at).total_seconds() / 3600
        share = _plume(t, tau, 0.3 + 0.1 * tau, self.hours) * scale
        if share <= 0:
            return {}
        return {m: v * share for m, v in EFFECTS[self.kind].items() if v}


def plume(
    k: Knowledge, *, source: str, starts_at: datetime, hours: float = 6.0, strength: float = 1.0
) -> Plume:
    """``source`` (a registered source node) discharging from ``starts_at`` for ``hours``."""
    net = k.rivers
    src = net.node(source)
    if not src.is_source:
        raise ValueError(f"{source} 不是登记的污染源节点（{src.kind_zh}）")
    reach = {}
    for device, node in net.stations.items():
        tau = net.travel_hours(source, node)
        if tau is not None:
            km = sum(net.down[n].length_km for n in (net.path(source, node) or [])[:-1])
            reach[device] = (tau, strength * math.exp(-km / DILUTION_KM))
    return Plume(source, src.kind, to_utc(starts_at), hours, reach)


def pollution_episode(
    k: Knowledge,
    *,
    source: str = "qj-s09",
    day: datetime,
    starts_at: datetime,
    hours: float = 6.0,
    strength: float = 1.0,
    seed: int = 0,
    interval_s: int = 300,
    span_hours: float = 24.0,
    decoy: tuple[str, datetime] | None = None,
) -> PollutionEpisode:
    """A day (from ``day``, ``span_hours`` long) of readings of every water-quality station on
    the river network, with ``source`` discharging from ``starts_at`` for ``hours``.

    ``decoy`` (device, time): that station's oxygen probe fouls for an hour from that time
    (dissolved oxygen reads 2.5 mg/L low, nothing else moves): a disturbance that is no
    pollution, for testing that a trace is not led astray."""
    p = plume(k, source=source, starts_at=starts_at, hours=hours, strength=strength)
    rng = random.Random(seed)
    t0 = to_utc(day)
    readings: list[Reading] = []
    for device in sorted(k.rivers.stations):
        clean = {
            "do_mg_l": rng.uniform(7.4, 8.6),
            "nh3n_mg_l": rng.uniform(0.12, 0.4),
            "cod_mg_l": rng.uniform(8.0, 14.0),
            "ph": rng.uniform(7.3, 7.9),
            "turbidity_ntu": rng.uniform(6.0, 25.0),
        }
        cycle = rng.uniform(0.25, 0.55)  # daily oxygen swing (photosynthesis), peak mid-afternoon
        for i in range(int(span_hours * 3600 / interval_s)):
            if rng.random() < 0.01:
                continue  # a lost transmission
            at = t0 + timedelta(seconds=i * interval_s)
            local = at.astimezone(CHINA_TZ)
            local_h = local.hour + local.minute / 60
            effect = p.effect(device, at)
            if decoy and device == decoy[0] and 0 <= (at - to_utc(decoy[1])).total_seconds() < 3600:
                effect = {**effect, "do_mg_l": effect.get("do_mg_l", 0.0) - 2.5}
            metrics = {}
            for metric in WATER_METRICS:
                v = clean[metric] + rng.gauss(0, NOISE[metric])
                if metric == "do_mg_l":
                    v += cycle * math.sin((local_h - 9) / 24 * 2 * math.pi)
                v += effect.get(metric, 0.0)
                if rng.random() < 0.005:
                    v += rng.choice((-1, 1)) * 6 * NOISE[metric]  # a lone spike
                floor = 0.0 if metric != "ph" else 4.0
                metrics[metric] = round(max(floor + 0.05, v), 3)
            readings.append(
                Reading(
                    message_id=f"{device}:{at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                    device_id=device,
                    observed_at=at,
                    metrics=metrics,
                )
            )
    readings.sort(key=lambda r: (r.observed_at, r.device_id))
    arrivals = {d: a for d in p.reach if (a := p.arrival(d)) is not None}
    return PollutionEpisode(
        source=source,
        kind=p.kind,
        starts_at=p.starts_at,
        hours=hours,
        readings=readings,
        arrivals=arrivals,
    )


def first_alarm(
    episode: PollutionEpisode, threshold: float | None = None, plume_only: bool = False
) -> tuple[str, datetime] | None:
    """The first station to raise an alarm on the episode's metric under a plain rule: three
    readings in a row beyond the class III limit (溶解氧 below 5 mg/L; 浊度 above 60 NTU);
    with ``plume_only``, among the stations the plume reaches (a decoy's alarm is another
    incident)."""
    metric = episode.alarm_metric
    limit = threshold if threshold is not None else (60.0 if metric == "turbidity_ntu" else 5.0)
    runs: dict[str, int] = {}
    for r in episode.readings:
        if plume_only and r.device_id not in episode.arrivals:
            continue
        v = r.metrics.get(metric)
        if v is None:
            continue
        bad = v > limit if metric == "turbidity_ntu" else v < limit
        runs[r.device_id] = runs.get(r.device_id, 0) + 1 if bad else 0
        if runs[r.device_id] == 3:
            first = [
                x
                for x in episode.readings
                if x.device_id == r.device_id and x.observed_at <= r.observed_at
            ][-3]
            return r.device_id, first.observed_at
    return None
