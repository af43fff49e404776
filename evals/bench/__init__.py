"""Benchmarks (``python -m evals.bench.<name>``): each prints its figures beside the floor
measured in the same run, and never fails on timing. The older ``evals.bench_store`` and
``evals.bench_triage`` keep their place."""
