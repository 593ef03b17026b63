"""The load benchmark of ``make bench``: see ``benchmarks/load.py``."""
