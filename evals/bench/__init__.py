"""Benchmarks: each prints its figures and their ratio to a raw floor measured in the same run;
none fails on timing."""
