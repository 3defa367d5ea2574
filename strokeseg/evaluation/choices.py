"""The values the evaluation settings accept (no heavy imports: the CLI builds its parser from them)."""

from __future__ import annotations

#: How ``--location`` chooses the location strata: cases.csv, the atlas, none, or auto (cases.csv when it
#: has locations, else none).
LOCATION_SOURCES: tuple[str, ...] = ("auto", "cases", "atlas", "none")
#: Multiple-comparison corrections of the tables of tests (docs/evaluation.md, "Multiple comparisons").
P_ADJUSTMENTS: tuple[str, ...] = ("holm", "bonferroni", "bh", "none")
#: The default correction: Holm's step-down procedure (controls the family-wise error rate like Bonferroni,
#: and rejects at least as often).
DEFAULT_P_ADJUSTMENT = "holm"
#: Omnibus tests of three or more groups: parametric (ANOVA, post hoc Student t) and rank-based (Kruskal–Wallis,
#: post hoc Mann–Whitney U); ``auto`` takes ANOVA when every group passes Shapiro–Wilk.
GROUP_TESTS: tuple[str, ...] = ("auto", "anova", "kruskal")
#: Bootstrap intervals of a mean: the percentile interval, or the bias-corrected and accelerated (BCa) one.
BOOTSTRAP_METHODS: tuple[str, ...] = ("percentile", "bca")
