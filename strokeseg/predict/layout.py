"""Where ``strokeseg predict`` writes: one folder per case, BIDS-derivative file names, one cohort table.

::

    OUTPUT/dataset_description.json                             (BIDS input: the derivative's description)
    OUTPUT/predictions.csv                                      one row per case, with its status
    OUTPUT/<case folder>/<prefix>_desc-lesion_mask.nii.gz       lesion mask, native space (input grid)
    OUTPUT/<case folder>/<prefix>_space-MNI152NLin2009aSym_desc-lesion_mask.nii.gz   (--mni)
    OUTPUT/<case folder>/<prefix>_desc-lesion_probseg.nii.gz    mean lesion probability (ensembles)
    OUTPUT/<case folder>/<prefix>_desc-qc.png                   QC montage
    OUTPUT/<case folder>/<prefix>_report.json / _report.csv     the case's report
    OUTPUT/<case folder>/<prefix>_<channel>.nii.gz              the channels converted from DICOM

The case folder is ``CASE`` (DICOM, NIfTI) or ``sub-X[/ses-Y]`` (BIDS); the prefix ``CASE`` or ``sub-X[_ses-Y]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strokeseg import __version__
from strokeseg.io import write_json_atomic

#: The cohort table in OUTPUT.
COHORT_FILE = "predictions.csv"
#: BIDS name of the MNI152 2009a symmetric template the location atlas lives on.
MNI_SPACE = "MNI152NLin2009aSym"
#: Working files of a case while it is processed (removed when it is done).
WORK_FOLDER = ".strokeseg_work"


@dataclass(frozen=True)
class CaseFiles:
    """The output files of one case."""

    folder: Path
    prefix: str

    def _file(self, name: str) -> Path:
        return self.folder / f"{self.prefix}_{name}"

    @property
    def mask(self) -> Path:
        """Lesion mask on the grid of the first input channel (uint8, 1 = lesion)."""
        return self._file("desc-lesion_mask.nii.gz")

    @property
    def mni_mask(self) -> Path:
        """Lesion mask on the 1 mm MNI152 2009a grid of the location atlas."""
        return self._file(f"space-{MNI_SPACE}_desc-lesion_mask.nii.gz")

    @property
    def probability(self) -> Path:
        """Mean lesion probability of the ensemble's members (float32, 0..1)."""
        return self._file("desc-lesion_probseg.nii.gz")

    @property
    def qc_png(self) -> Path:
        """Axial, coronal and sagittal slices through the largest lesion."""
        return self._file("desc-qc.png")

    @property
    def report_json(self) -> Path:
        """The case's full report."""
        return self._file("report.json")

    @property
    def report_csv(self) -> Path:
        """The case's row of the cohort table."""
        return self._file("report.csv")

    def channel_image(self, channel: str) -> Path:
        """A channel converted from DICOM."""
        return self._file(f"{channel}.nii.gz")

    @property
    def work(self) -> Path:
        """Working folder of the case (converted channels for nnU-Net, dcm2niix output)."""
        return self.folder / WORK_FOLDER


def finished_report(files: CaseFiles, key: str) -> dict[str, Any] | None:
    """The case's report when an earlier run finished it with the same inputs and settings (``key``) and every
    file it lists still exists; else None (the case is processed again)."""
    try:
        report = json.loads(files.report_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("key") != key or report.get("status") != "ok":
        return None
    listed = [Path(path) for path in report.get("files", {}).values() if path]
    return report if files.report_csv.is_file() and all(path.is_file() for path in listed) else None


def write_dataset_description(output: Path, source: Path) -> Path:
    """``dataset_description.json`` of a BIDS derivative dataset written by strokeseg (kept when present)."""
    target = output / "dataset_description.json"
    if target.is_file():
        return target
    return write_json_atomic(target, {
        "Name": "strokeseg lesion segmentation", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "strokeseg", "Version": __version__,
                         "Description": "strokeseg predict: nnU-Net lesion segmentation, volume, location, QC"}],
        "SourceDatasets": [{"URL": source.resolve().as_uri()}]})
