"""Synthetic cohorts for the demo, the tests and the benchmarks (nothing is downloaded)."""
