"""The conversion report: every case of a run, converted or skipped, with the reason (CSV and JSON)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from strokeseg.io import atomic_path, write_json_atomic

REPORT_CSV = "conversion_report.csv"
REPORT_JSON = "conversion_report.json"

STATUS_CONVERTED = "converted"
STATUS_SKIPPED = "skipped"


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one case.

    Attributes:
        case_id: the case identifier.
        status: ``converted`` or ``skipped``.
        reason: why a case was skipped (one line); empty for converted cases.
        split: ``train``/``test`` for converted cases.
        resumed: converted by an earlier, interrupted run and reused.
        sources: source files (``source_<channel>``, ``source_mask``).
    """

    case_id: str
    status: str
    reason: str = ""
    split: str = ""
    resumed: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """Flat row for the CSV report."""
        return {"case_id": self.case_id, "status": self.status, "split": self.split, "reason": self.reason,
                "resumed": "yes" if self.resumed else "no", **self.sources}


def summarise(outcomes: Sequence[CaseOutcome]) -> dict[str, int]:
    """Counts of converted (by split) and skipped cases."""
    converted = [outcome for outcome in outcomes if outcome.status == STATUS_CONVERTED]
    return {"converted": len(converted),
            "converted_train": sum(outcome.split == "train" for outcome in converted),
            "converted_test": sum(outcome.split == "test" for outcome in converted),
            "resumed": sum(outcome.resumed for outcome in converted),
            "skipped": sum(outcome.status == STATUS_SKIPPED for outcome in outcomes)}


def write_report(folder: Path, outcomes: Sequence[CaseOutcome], header: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``conversion_report.csv`` and ``conversion_report.json`` into ``folder`` (atomically).

    ``header`` (cohort, source, dataset, options, ...) goes into the JSON before the counts and the cases.
    """
    ordered = sorted(outcomes, key=lambda outcome: (outcome.status != STATUS_SKIPPED, outcome.case_id))
    table = pd.DataFrame([outcome.row() for outcome in ordered],
                         columns=None if ordered else ["case_id", "status", "split", "reason", "resumed"])
    csv_path = folder / REPORT_CSV
    with atomic_path(csv_path) as temporary:
        table.to_csv(temporary, index=False)
    content = {**header, "counts": summarise(outcomes), "cases": [outcome.row() for outcome in ordered]}
    json_path = write_json_atomic(folder / REPORT_JSON, content)
    return csv_path, json_path
