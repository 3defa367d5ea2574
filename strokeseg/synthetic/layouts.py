"""Writers of the real on-disk layouts (docs/conversion.md) for phantom cases, and of their index tables.

registry  ``images/<case>_{dwi,adc,b0[,flair]}.nii.gz``, ``masks/<case>_mask.nii.gz``, ``manifest.csv``
isles22   ``rawdata/sub-strokecaseNNNN/ses-0001/[dwi/|anat/]..._{dwi,adc,FLAIR|flair}.nii.gz`` (+ JSON sidecars),
          ``derivatives/sub-.../ses-0001/..._msk.nii.gz`` (uint16), ``participants.tsv``,
          ``dataset_description.json``; every third case is "flat" (no dwi/ and anat/ folders, lower-case
          ``flair``) as some releases are.
atlas2    ``ATLAS_2/{Training,Testing}/R0XX/sub-r0XXsNNN/ses-1/anat/..._space-MNI152NLin2009aSym_T1w.nii.gz``
          (+ ``..._label-L_desc-T1lesion_mask.nii.gz`` in Training), ``ATLAS_2/20220425_ATLAS_2.0_MetaData.csv``
wmh       ``training/<Site>/<subject>/{wmh.nii.gz,pre/FLAIR.nii.gz,pre/T1.nii.gz}``
wmh-registry  a FLAIR-only multi-site WMH registry (Kim's cohort shape) for ``strokeseg convert registry
          --channels FLAIR --ignore-label``: ``flair/<case>.nii.gz`` (+ JSON sidecar), ``masks/<case>_wmh.nii.gz``
          (0 / 1 WMH / 2 infarct = other pathology), ``masks/<case>_infarct.nii.gz`` where the case has an infarct,
          ``manifest.csv``
Every layout also gets ``phantom_truth.csv`` (not part of the real layouts): what was generated per case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import SimpleITK as sitk

from strokeseg.io import atomic_path, write_image_atomic, write_json_atomic
from strokeseg.synthetic.phantom import PhantomCase

#: Phantom kind each layout holds.
LAYOUT_KINDS: dict[str, str] = {"registry": "acute", "isles22": "acute", "atlas2": "chronic", "wmh": "wmh",
                                 "wmh-registry": "wmh"}
#: Columns of the registry manifest (paths relative to the CSV), in order; ``flair`` follows when written.
MANIFEST_COLUMNS: tuple[str, ...] = (
    "case_id", "dwi", "adc", "b0", "mask", "site", "vendor", "field_strength_t", "onset_to_imaging_h", "location",
    "chronic_infarct", "wmh_volume_ml", "split",
)
#: Columns of the FLAIR-only WMH registry's manifest (paths relative to the CSV), in order.
WMH_MANIFEST_COLUMNS: tuple[str, ...] = (
    "case_id", "flair", "mask", "infarct_mask", "site", "vendor", "field_strength_t", "chronic_infarct", "split",
)
#: Label of the infarct ("other pathology") in the WMH phantoms' label maps.
WMH_INFARCT_LABEL = 2
#: Columns of participants.tsv in the ISLES'22-like tree.
PARTICIPANTS_COLUMNS: tuple[str, ...] = (
    "participant_id", "site", "vendor", "field_strength_t", "onset_to_imaging_h", "chronic_infarct", "wmh_volume_ml",
    "location",
)
#: File name and columns of the ATLAS R2.0-like metadata table.
ATLAS_METADATA_FILE = "20220425_ATLAS_2.0_MetaData.csv"
ATLAS_METADATA_COLUMNS: tuple[str, ...] = ("Subject ID", "Session", "Site", "Split", "Manufacturer",
                                           "Field Strength (T)")
#: Name of the generator's own per-case table (every layout).
TRUTH_FILE = "phantom_truth.csv"
#: Cases whose index % 10 is one of these go to ATLAS ``Testing`` (30 %, about the 655/300 split of R2.0).
ATLAS_TEST_REMAINDERS: tuple[int, ...] = (3, 6, 9)


@dataclass(frozen=True)
class WrittenCase:
    """Where a case went: its identifier in the layout, the primary image and mask (relative to OUT)."""

    case_id: str
    image: str
    mask: str
    index_row: dict[str, Any]
    truth_row: dict[str, Any]
    images: dict[str, str]


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _write(image: sitk.Image, out: Path, relative: str) -> str:
    write_image_atomic(image, out / relative)
    return relative


def _sidecar(case: PhantomCase, b_value: float | None, series: str) -> dict[str, Any]:
    metadata = case.metadata
    sidecar: dict[str, Any] = {
        "Modality": "MR", "Manufacturer": metadata["manufacturer"], "ManufacturerModelName": metadata["model"],
        "MagneticFieldStrength": metadata["field_strength_t"], "SliceThickness": metadata["slice_thickness_mm"],
        "SpacingBetweenSlices": metadata["slice_thickness_mm"], "SeriesDescription": series,
        "InstitutionName": metadata["site"],
    }
    if b_value is not None:
        sidecar["DiffusionBValue"] = b_value
    return sidecar


def write_registry_case(out: Path, case: PhantomCase) -> WrittenCase:
    """One registry case: images/, masks/ and its manifest row."""
    case_id = f"reg{case.index + 1:05d}"
    row: dict[str, Any] = {"case_id": case_id}
    for name in ("dwi", "adc", "b0", "flair"):
        if name in case.images:
            row[name] = _write(case.images[name], out, f"images/{case_id}_{name}.nii.gz")
    row["mask"] = _write(case.label, out, f"masks/{case_id}_mask.nii.gz")
    metadata = case.metadata
    row.update(site=metadata["site"], vendor=metadata["vendor"], field_strength_t=metadata["field_strength_t"],
               onset_to_imaging_h=metadata["onset_to_imaging_h"], location=metadata["location"],
               chronic_infarct=_yes_no(metadata["chronic_infarct"]), wmh_volume_ml=metadata["wmh_volume_ml"], split="")
    images: dict[str, str] = {name: str(row[name]) for name in ("dwi", "adc", "b0", "flair") if name in row}
    return WrittenCase(case_id, row["dwi"], row["mask"], row, _truth(case_id, row["dwi"], row["mask"], case), images)


def write_isles22_case(out: Path, case: PhantomCase) -> WrittenCase:
    """One ISLES'22-like case (BIDS names, JSON sidecars, mask in derivatives)."""
    subject = f"sub-strokecase{case.index + 1:04d}"
    prefix = f"{subject}_ses-0001"
    flat = case.index % 3 == 0
    session = f"rawdata/{subject}/ses-0001"
    dwi_folder, anat_folder = (session, session) if flat else (f"{session}/dwi", f"{session}/anat")
    b_value = float(case.metadata["b_value"])
    dwi = _write(sitk.Cast(case.images["dwi"], sitk.sitkFloat32), out, f"{dwi_folder}/{prefix}_dwi.nii.gz")
    write_json_atomic(out / f"{dwi_folder}/{prefix}_dwi.json", _sidecar(case, b_value, "DWI trace"))
    adc = _write(sitk.Cast(case.images["adc"], sitk.sitkFloat32), out, f"{dwi_folder}/{prefix}_adc.nii.gz")
    write_json_atomic(out / f"{dwi_folder}/{prefix}_adc.json", _sidecar(case, 0.0, "ADC"))
    if "flair" in case.images:
        flair_name = "flair" if flat else "FLAIR"
        _write(sitk.Cast(case.images["flair"], sitk.sitkFloat32), out, f"{anat_folder}/{prefix}_{flair_name}.nii.gz")
        write_json_atomic(out / f"{anat_folder}/{prefix}_{flair_name}.json", _sidecar(case, None, "FLAIR"))
    mask = _write(sitk.Cast(case.label, sitk.sitkUInt16), out, f"derivatives/{subject}/ses-0001/{prefix}_msk.nii.gz")
    metadata = case.metadata
    row = {"participant_id": subject, "site": metadata["site"], "vendor": metadata["vendor"],
           "field_strength_t": metadata["field_strength_t"], "onset_to_imaging_h": metadata["onset_to_imaging_h"],
           "chronic_infarct": _yes_no(metadata["chronic_infarct"]), "wmh_volume_ml": metadata["wmh_volume_ml"],
           "location": metadata["location"]}
    return WrittenCase(subject, dwi, mask, row, _truth(subject, dwi, mask, case), {"dwi": dwi, "adc": adc})


def atlas_site_number(site_name: str) -> int:
    """The number of an ATLAS cohort name such as ``R001`` (any trailing digits; 0 when there are none)."""
    match = re.search(r"(\d+)$", site_name)
    return int(match.group(1)) if match else 0


def write_atlas2_case(out: Path, case: PhantomCase, subject_number: int) -> WrittenCase:
    """One ATLAS R2.0-like case (Training with mask, or Testing without)."""
    site_code = f"R{atlas_site_number(case.metadata['site']):03d}"
    subject = f"sub-r{atlas_site_number(case.metadata['site']):03d}s{subject_number:03d}"
    split = "Testing" if case.index % 10 in ATLAS_TEST_REMAINDERS else "Training"
    folder = f"ATLAS_2/{split}/{site_code}/{subject}/ses-1/anat"
    stem = f"{subject}_ses-1_space-MNI152NLin2009aSym"
    image = _write(case.images["t1"], out, f"{folder}/{stem}_T1w.nii.gz")
    mask = ""
    if split == "Training":
        mask = _write(case.label, out, f"{folder}/{stem}_label-L_desc-T1lesion_mask.nii.gz")
    row = {"Subject ID": subject, "Session": "ses-1", "Site": site_code, "Split": split,
           "Manufacturer": case.metadata["manufacturer"], "Field Strength (T)": case.metadata["field_strength_t"]}
    truth = _truth(subject, image, mask, case)
    if not mask:  # the test masks are hidden in the real release; the truth table still knows the lesion
        truth["hidden_mask"] = True
    return WrittenCase(subject, image, mask, row, truth, {"t1": image})


def write_wmh_case(out: Path, case: PhantomCase, subject_number: int) -> WrittenCase:
    """One WMH-2017-like case: FLAIR and T1 on one grid, wmh.nii.gz with 1 = WMH, 2 = other pathology."""
    folder = f"training/{case.metadata['site']}/{subject_number}"
    image = _write(case.images["flair"], out, f"{folder}/pre/FLAIR.nii.gz")
    t1 = _write(case.images["t1"], out, f"{folder}/pre/T1.nii.gz")
    mask = _write(case.label, out, f"{folder}/wmh.nii.gz")
    case_id = f"{case.metadata['site']}_{subject_number}"
    return WrittenCase(case_id, image, mask, {}, _truth(case_id, image, mask, case), {"flair": image, "t1": t1})


def write_wmh_registry_case(out: Path, case: PhantomCase) -> WrittenCase:
    """One case of the FLAIR-only WMH registry: FLAIR with its sidecar, the WMH label map (2 = the infarct, other
    pathology) and, when the case has an infarct, the infarct as an extra mask (on the FLAIR grid here); the
    manifest row leaves vendor and field strength to the sidecar."""
    case_id = f"wmhreg{case.index + 1:05d}"
    flair = _write(case.images["flair"], out, f"flair/{case_id}.nii.gz")
    write_json_atomic(out / f"flair/{case_id}.json", _sidecar(case, None, "FLAIR"))
    mask = _write(case.label, out, f"masks/{case_id}_wmh.nii.gz")
    infarct = sitk.BinaryThreshold(case.label, WMH_INFARCT_LABEL, WMH_INFARCT_LABEL, 1, 0)
    has_infarct = bool(sitk.GetArrayViewFromImage(infarct).any())
    row: dict[str, Any] = {
        "case_id": case_id, "flair": flair, "mask": mask,
        "infarct_mask": _write(infarct, out, f"masks/{case_id}_infarct.nii.gz") if has_infarct else "",
        "site": case.metadata["site"], "vendor": "", "field_strength_t": "",
        "chronic_infarct": _yes_no(has_infarct), "split": ""}
    return WrittenCase(case_id, flair, mask, row, _truth(case_id, flair, mask, case), {"flair": flair})


def _truth(case_id: str, image: str, mask: str, case: PhantomCase) -> dict[str, Any]:
    metadata = {key: value for key, value in case.metadata.items()}
    metadata["chronic_infarct"] = _yes_no(metadata["chronic_infarct"])
    return {"case_id": case_id, "case_index": case.index, "image": image, "mask": mask, **metadata}


def write_case(layout: str, out: Path, case: PhantomCase, subject_number: int) -> WrittenCase:
    """Write one case in ``layout``; ``subject_number`` numbers subjects within their site (ATLAS, WMH)."""
    if layout == "registry":
        return write_registry_case(out, case)
    if layout == "isles22":
        return write_isles22_case(out, case)
    if layout == "atlas2":
        return write_atlas2_case(out, case, subject_number)
    if layout == "wmh":
        return write_wmh_case(out, case, subject_number)
    if layout == "wmh-registry":
        return write_wmh_registry_case(out, case)
    raise ValueError(f"unknown layout {layout!r}")


def write_tables(layout: str, out: Path, written: Sequence[WrittenCase]) -> list[Path]:
    """Write the layout's index tables and ``phantom_truth.csv``; returns the files written."""
    paths = [_write_table(pd.DataFrame([case.truth_row for case in written]), out / TRUTH_FILE, ",")]
    rows = [case.index_row for case in written]
    if layout == "registry":
        columns = [*MANIFEST_COLUMNS, *(["flair"] if any("flair" in row for row in rows) else [])]
        paths.append(_write_table(pd.DataFrame(rows, columns=columns), out / "manifest.csv", ","))
    elif layout == "wmh-registry":
        paths.append(_write_table(pd.DataFrame(rows, columns=list(WMH_MANIFEST_COLUMNS)), out / "manifest.csv", ","))
    elif layout == "isles22":
        paths.append(_write_table(pd.DataFrame(rows, columns=list(PARTICIPANTS_COLUMNS)), out / "participants.tsv",
                                  "\t"))
        paths.append(write_json_atomic(out / "dataset_description.json", {
            "Name": "strokeseg phantom cohort (ISLES'22-like layout)", "BIDSVersion": "1.6.0",
            "DatasetType": "raw", "GeneratedBy": [{"Name": "strokeseg synth"}]}))
    elif layout == "atlas2":
        paths.append(_write_table(pd.DataFrame(rows, columns=list(ATLAS_METADATA_COLUMNS)),
                                  out / "ATLAS_2" / ATLAS_METADATA_FILE, ","))
    return paths


def _write_table(table: pd.DataFrame, target: Path, separator: str) -> Path:
    with atomic_path(target) as temporary:
        table.to_csv(temporary, sep=separator, index=False, na_rep="n/a" if separator == "\t" else "")
    return target
