"""Benchmarks of fireline's content scanners, one module per scanner, with shared corpora."""
