"""Benchmarks that report figures and their ratio to a raw floor measured in the same run;
none fails on timing. Run each with ``python -m evals.bench.<name>``."""
