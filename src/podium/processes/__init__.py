"""Processes a `run` task starts: one module each."""
