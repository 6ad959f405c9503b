"""Benchmarks of the reference server: `python -m bench` (see bench/README.md)."""
