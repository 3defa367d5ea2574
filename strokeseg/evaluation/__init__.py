"""Evaluation: metrics (shared/METRICS.md), lesion matching, strata, statistics and reports.

Pure computation: ``overlap``, ``surface``, ``lesions``, ``probability`` (metric definitions), ``engines`` and
``torch_engine`` (CPU and CUDA engines), ``case_metrics`` (all per-case metrics of two arrays), ``strata``,
``statistics`` and ``report`` (tables). I/O and orchestration: ``inputs`` (finding and matching files),
``worker`` (one case from its files; process pool), ``plots``, ``evaluate`` (a whole run; atlas locations
come from ``strokeseg.location``) and ``cli`` (``strokeseg evaluate``).
"""
