"""Regulation index build against its raw floor: how long the model takes to embed the same
passages, measured in the same run. Prints figures and ratios; never fails on timing.

    python -m evals.bench.index                                     # the built-in digests
    python -m evals.bench.index --source ../shared/data/regulations # the 75-law corpus

Steps, in one temporary directory:

1. raw: the distinct passages of the sources embedded by one in-process call of the model
   (loaded and warmed up first, not timed), measured before and after step 2 because the
   machine is shared;
2. cold build: a fresh data directory and an empty vector cache, shipped vectors off, so every
   passage goes through the model as in a first build (also reported against the model time
   inside the build itself, a ratio that load on the machine hardly moves);
3. another data directory sharing that cache (what a second data directory, or a rebuild after
   deleting one, pays);
4. the unchanged rebuild of the first directory;
5. the built-in digests in a fresh data directory with the shipped vectors (``sanji serve`` on a
   fresh data directory)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.embedding import model, model_id
from knowledge.lawtext import parse_file
from knowledge.retrieval import BUILTIN_DIR, open_index
from knowledge.retrieval.build import source_files
from knowledge.retrieval.corpus import passage


def distinct_passages(sources: Sequence[Path]) -> list[str]:
    """The passages a first build of ``sources`` embeds (each distinct text once)."""
    texts = [
        passage(a)
        for path, manifest in source_files(sources)
        for a in parse_file(path, manifest).articles
    ]
    return list(dict.fromkeys(texts))


def _build(work: Path, name: str, sources: Sequence[Path], **kw: Any) -> dict[str, Any]:
    index = open_index(work / name, work / name / "chroma", **kw)
    started = time.perf_counter()
    report = index.build(sources)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "model_seconds": report.embed_seconds,
        "articles": report.articles,
        "written": report.embedded,
        "computed": report.computed,
        "reused": report.reused,
    }


def _raw(texts: list[str]) -> float:
    started = time.perf_counter()
    model().passage(texts)
    return round(time.perf_counter() - started, 2)


def run(sources: Sequence[Path], work: Path, raw: bool = True) -> dict[str, Any]:
    texts = distinct_passages(sources)
    result: dict[str, Any] = {
        "model": model_id(),
        "sources": [str(s) for s in sources],
        "passages": len(texts),
    }
    if raw:
        model().passage(texts[:8])  # load and warm up, not timed
        result["raw_embed_s_before"] = _raw(texts)
    cache = work / "vectors.sqlite3"
    result["cold_build"] = cold = _build(
        work, "a", sources, vector_cache=cache, shipped_vectors=False
    )
    if raw:
        # the machine is shared: the floor is measured on both sides of the cold build
        result["raw_embed_s_after"] = _raw(texts)
        floor = (result["raw_embed_s_before"] + result["raw_embed_s_after"]) / 2
        result["ratio_cold_build_to_raw"] = round(cold["seconds"] / floor, 3)
    # the part of the build that is not the model, whatever the load: build / its own model time
    if cold["model_seconds"]:
        result["ratio_cold_build_to_its_model_time"] = round(
            cold["seconds"] / cold["model_seconds"], 3
        )
    result["other_data_dir_build"] = _build(work, "b", sources, vector_cache=cache)
    result["unchanged_rebuild"] = _build(work, "a", sources, vector_cache=cache)
    result["builtin_fresh_data_dir"] = _build(work, "c", [BUILTIN_DIR])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="regulation index build benchmark")
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        help="law folder or file (repeatable); default: the built-in digests",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the raw embedding floor")
    parser.add_argument(
        "--work",
        type=Path,
        help="an empty folder to build in and keep (data dirs a, b, c and the vector cache); "
        "default: a temporary folder, removed after",
    )
    args = parser.parse_args()
    sources = args.source or [BUILTIN_DIR]
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        result = run(sources, args.work, raw=not args.no_raw)
    else:
        with tempfile.TemporaryDirectory(prefix="sanji-bench-index-") as tmp:
            result = run(sources, Path(tmp), raw=not args.no_raw)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
