"""Evaluation: metrics (METRICS.md), lesion matching, location atlas, strata, statistics and reports."""
