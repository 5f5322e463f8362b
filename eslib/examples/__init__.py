"""Worked examples of eslib's patterns, imported by tests and notebooks."""
