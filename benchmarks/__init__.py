"""Benchmarks of attendance recording, run as `python -m benchmarks`.

Each measure is set beside a floor (hand-written SQL doing the same work) and a naive
version (one row at a time), in the same run and on the same scratch database, which
is created for the run and dropped at its end. See `python -m benchmarks --help` and
`benchmarks/RESULTS.md`.
"""
