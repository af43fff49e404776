"""Regulation search latency against its raw floor, the query embedding, measured in the same
run on the same distinct questions. Prints figures and ratios; never fails on timing.

    python -m evals.bench.search                          # the built-in digests (built here)
    python -m evals.bench.search --data-dir /tmp/idx-a    # an index already built there

The questions are the distinct questions of ``evals/datasets/retrieval-*.jsonl`` (every style,
dev and test), each asked once per mode: no question repeats, so a cache of query vectors
would not help. Per question: the query embedding alone (``floor``), then lexical, dense and
hybrid search (k = 10, as the retrieval evaluation asks). ``--profile`` adds where hybrid
search spends its time (cProfile, by function)."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from knowledge.embedding import embed_query
from knowledge.retrieval import BUILTIN_DIR, RegulationIndex, open_index

DATASETS = Path(__file__).parents[1] / "datasets"
MODES = ("lexical", "dense", "hybrid")


def questions(limit: int | None = None) -> list[str]:
    """The distinct questions of every retrieval dataset, in file order."""
    out: list[str] = []
    for path in sorted(DATASETS.glob("retrieval-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(str(json.loads(line)["question"]).strip())
    distinct = list(dict.fromkeys(out))
    return distinct[:limit] if limit else distinct


def _percentiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
    }


def run(index: RegulationIndex, qs: Sequence[str], k: int = 10) -> dict[str, Any]:
    index.search("预热", k=k)  # lexical index, vectors read from Chroma, model: once, untimed
    for mode in MODES:
        index.search("燃气泄漏谁管", k=k, mode=mode)

    def searcher(mode: str) -> Callable[[str], object]:
        return lambda q: index.search(q, k=k, mode=mode)

    steps: dict[str, Callable[[str], object]] = {"floor_query_embedding": embed_query}
    steps.update({mode: searcher(mode) for mode in MODES})
    times: dict[str, list[float]] = {name: [] for name in steps}
    for q in qs:  # modes interleaved per question, so load on the machine hits them alike
        for name, step in steps.items():
            started = time.perf_counter()
            step(q)
            times[name].append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        "units": len(index.units),
        "questions": len(qs),
        **{name: _percentiles(ms) for name, ms in times.items()},
    }
    floor = result["floor_query_embedding"]["p50_ms"]
    if floor > 0:
        result["ratio_hybrid_p50_to_floor_p50"] = round(result["hybrid"]["p50_ms"] / floor, 3)
    pairs = zip(times["hybrid"], times["floor_query_embedding"], strict=True)
    result["hybrid_minus_floor_p50_ms"] = round(
        statistics.median(h - f for h, f in pairs) if qs else 0.0, 2
    )
    return result


def profile(index: RegulationIndex, qs: Sequence[str], top: int = 15) -> str:
    """cProfile of hybrid search over ``qs``, the ``top`` functions by their own time."""
    prof = cProfile.Profile()
    prof.enable()
    for q in qs:
        index.search(q, k=10)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description="regulation search latency benchmark")
    parser.add_argument("--data-dir", type=Path, help="a data dir whose index is built")
    parser.add_argument("--chroma", type=Path, help="its Chroma folder (default: DATA_DIR/chroma)")
    parser.add_argument("--limit", type=int, help="ask only the first N distinct questions")
    parser.add_argument("--profile", action="store_true", help="also profile hybrid search")
    args = parser.parse_args()
    qs = questions(args.limit)
    with tempfile.TemporaryDirectory(prefix="sanji-bench-search-") as tmp:
        if args.data_dir:
            index = open_index(args.data_dir, args.chroma or args.data_dir / "chroma")
            if not index.units:
                raise SystemExit(f"no index in {args.data_dir}: run sanji index build first")
        else:
            index = open_index(Path(tmp), Path(tmp) / "chroma")
            index.build([BUILTIN_DIR])
        result = run(index, qs)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        if args.profile:
            print(profile(index, qs[: min(len(qs), 150)]))


if __name__ == "__main__":
    main()
