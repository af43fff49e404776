"""Benchmarks (``python -m evals.bench.<name>``): each prints its figures beside the raw floor
measured in the same run, and none fails on timing. The older ``evals.bench_store`` keeps its
place."""
