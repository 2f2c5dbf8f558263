"""Benchmarks of the interpreter (not tests): ``python -m bench`` from the repo root."""
