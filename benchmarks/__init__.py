"""Benchmarks: `python -m benchmarks [NAME ...]` runs them and prints one table each."""
