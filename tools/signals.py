"""What a water-quality station's readings say: when a metric departed from its recent level
(``detect_onset``), which way each metric moved then (``signature_at``), and what each kind of
registered source does to the water (``SIGNATURES``). Pure functions of readings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

from domain.alarms import Reading
from domain.clock import to_utc
from knowledge.rivers import WATER_METRICS

#: -1: a drop is pollution (dissolved oxygen); +1: a rise is; 0: any departure (pH)
DIRECTION = {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 1, "ph": 0}
#: the smallest change that counts as an anomaly, whatever the noise
MIN_CHANGE = {"do_mg_l": 1.0, "nh3n_mg_l": 0.3, "cod_mg_l": 4.0, "turbidity_ntu": 10.0, "ph": 0.5}
#: how many anomalous readings in a row make an onset
RUN = 3
#: what each kind of source does to the water: -1 lowers, +1 raises (pH: moves), 0 leaves it
SIGNATURES: dict[str, dict[str, int]] = {
    "outfall": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 1, "ph": 0},
    "sewage_plant": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 0},
    "livestock": {"do_mg_l": -1, "nh3n_mg_l": 1, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 0},
    "industrial": {"do_mg_l": -1, "nh3n_mg_l": 0, "cod_mg_l": 1, "turbidity_ntu": 0, "ph": 1},
    "construction": {"do_mg_l": 0, "nh3n_mg_l": 0, "cod_mg_l": 0, "turbidity_ntu": 1, "ph": 0},
}


def _noise(values: list[float]) -> float:
    """A robust noise level: the median absolute step between readings, as a deviation."""
    steps = [abs(b - a) for a, b in pairwise(values)]
    return 1.4826 * median(steps) / math.sqrt(2) if steps else 0.0


#: the readings an onset is measured against: those from 4 h to 1 h before it (a slow change,
#: such as the daily oxygen cycle, moves little in that time; a plume's front moves a lot)
BASELINE = (timedelta(hours=4), timedelta(hours=1))


def detect_onset(
    series: Sequence[Reading], metric: str, since: datetime | None = None
) -> datetime | None:
    """When the metric of one station's readings first departs from its recent level for
    ``RUN`` readings in a row (None when it never does); with ``since``, the first such
    departure from then on (earlier readings still make the recent level)."""
    points = [(to_utc(r.observed_at), r.metrics[metric]) for r in series if metric in r.metrics]
    if len(points) < RUN:
        return None
    limit = max(MIN_CHANGE[metric], 4 * _noise([v for _, v in points]))
    run = 0
    lo = hi = 0  # the baseline window points[lo:hi]
    start = to_utc(since) if since is not None else None
    for i, (t, v) in enumerate(points):
        if start is not None and t < start:
            continue
        while hi < i and points[hi][0] <= t - BASELINE[1]:
            hi += 1
        while lo < hi and points[lo][0] < t - BASELINE[0]:
            lo += 1
        if hi - lo < 2 * RUN:
            run = 0
            continue
        d = v - median(x for _, x in points[lo:hi])
        bad = {-1: d < -limit, 1: d > limit, 0: abs(d) > limit}[DIRECTION[metric]]
        run = run + 1 if bad else 0
        if run == RUN:
            return points[i - RUN + 1][0]
    return None


def signature_at(series: Sequence[Reading], onset: datetime) -> dict[str, int]:
    """Which way each metric moved at a station: the readings of the hour after the
    onset against those of the three hours before it."""
    out: dict[str, int] = {}
    t0 = to_utc(onset)
    for metric in WATER_METRICS:
        before = [
            r.metrics[metric]
            for r in series
            if metric in r.metrics and t0 - timedelta(hours=3) <= to_utc(r.observed_at) < t0
        ]
        after = [
            r.metrics[metric]
            for r in series
            if metric in r.metrics and t0 <= to_utc(r.observed_at) < t0 + timedelta(hours=1)
        ]
        if len(before) < RUN or not after:  # at the alarm, the change may be one reading old
            continue
        d = median(after) - median(before)
        small = MIN_CHANGE[metric] / 2
        if DIRECTION[metric] == 0:
            out[metric] = 1 if abs(d) > small else 0
        else:
            out[metric] = 1 if d > small else -1 if d < -small else 0
    return out


def describe(sig: dict[str, int]) -> str:
    """Which way the metrics moved, in Chinese: 溶解氧下降、氨氮上升…"""
    words = []
    for metric, way in sig.items():
        name = WATER_METRICS[metric][0]
        if way and DIRECTION[metric] == 0:
            words.append(f"{name}异常波动")
        elif way:
            words.append(f"{name}{'上升' if way > 0 else '下降'}")
    return "、".join(words) or "各项指标无明显变化"
