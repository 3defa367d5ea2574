"""Tiny cohorts in the real on-disk layouts (docs/conversion.md), with real NIfTI/DICOM files, for converter tests.

Each ``make_*`` function writes a small source tree and returns what a test needs to check the conversion
(expected lesion volumes per case, ...). Volumes are small (12×24×24 voxels) so that the tests stay fast.
The layouts mirror those of the phantom generator (``strokeseg synth``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from strokeseg.synthetic.toy import toy_case

SHAPE_ZYX: tuple[int, int, int] = (12, 24, 24)
SPACING_XYZ: tuple[float, float, float] = (2.0, 2.0, 3.0)
ORIGIN_XYZ: tuple[float, float, float] = (-24.0, -24.0, -18.0)


@dataclass
class FixtureCohort:
    """What a fixture wrote: the source root, the expected lesion volume (mL) and split per case id, and a further
    expected number per case where the fixture says so (``extra``)."""

    root: Path
    volumes_ml: dict[str, float] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


def write_nifti(path: Path, array: np.ndarray, spacing: Sequence[float] = SPACING_XYZ,
                origin: Sequence[float] = ORIGIN_XYZ, direction: Sequence[float] | None = None) -> Path:
    """Write ``array`` (z, y, x) or (t, z, y, x) as NIfTI with the given grid (x, y, z order, mm)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 4:
        image = sitk.JoinSeries([_image(volume, spacing, origin, direction) for volume in array])
    else:
        image = _image(array, spacing, origin, direction)
    sitk.WriteImage(image, str(path), True)
    return path


def _image(array: np.ndarray, spacing: Sequence[float], origin: Sequence[float],
           direction: Sequence[float] | None) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in spacing))
    image.SetOrigin(tuple(float(o) for o in origin))
    if direction is not None:
        image.SetDirection(tuple(float(d) for d in direction))
    return image


def write_json(path: Path, content: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
    return path


def phantom(seed: int, shape: tuple[int, int, int] = SHAPE_ZYX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(DWI-like, ADC-like, lesion mask) arrays (z, y, x): bright lesions on DWI, dark on ADC."""
    image, mask = toy_case(np.random.default_rng(seed), shape)
    adc = np.where(image > 40, 800.0 - 350.0 * mask, 0.0).astype(np.float32)
    return image, adc, mask


def volume_ml(mask: np.ndarray, spacing: Sequence[float] = SPACING_XYZ) -> float:
    return float(np.count_nonzero(mask)) * float(np.prod(spacing)) / 1000.0


# --------------------------------------------------------------------------------------------------
# ISLES'22
# --------------------------------------------------------------------------------------------------
VENDORS = (("SIEMENS", "Siemens", 1.5), ("Philips Medical Systems", "Philips", 3.0), ("GE MEDICAL SYSTEMS", "GE", 3.0))


def make_isles22(root: Path, n_cases: int = 3, flair: bool = True, four_d_case: bool = False) -> FixtureCohort:
    """ISLES'22 BIDS tree; odd cases use dwi/ and anat/ sub-folders and ``FLAIR``, even ones a flat folder
    and ``flair``. FLAIR lies on a finer in-plane, thicker-slice grid. ``four_d_case`` makes the last case's
    DWI 4-D (b = 0, 1000, 1000) with a .bval."""
    cohort = FixtureCohort(root)
    for index in range(1, n_cases + 1):
        subject = f"strokecase{index:04d}"
        session = root / "rawdata" / f"sub-{subject}" / "ses-0001"
        nested = index % 2 == 1
        stem = f"sub-{subject}_ses-0001"
        dwi, adc, mask = phantom(index)
        manufacturer, _, tesla = VENDORS[index % len(VENDORS)]
        sidecar = {"Manufacturer": manufacturer, "ManufacturerModelName": "Model X", "MagneticFieldStrength": tesla,
                   "DiffusionBValue": 1000.0, "SliceThickness": SPACING_XYZ[2]}
        dwi_dir = session / "dwi" if nested else session
        if four_d_case and index == n_cases:
            b0 = np.where(dwi > 0, dwi * 1.8, 0).astype(np.float32)
            write_nifti(dwi_dir / f"{stem}_dwi.nii.gz", np.stack([b0, dwi * 0.98, dwi * 1.02]))
            (dwi_dir / f"{stem}_dwi.bval").write_text("0 1000 1000\n")
        else:
            write_nifti(dwi_dir / f"{stem}_dwi.nii.gz", dwi)
        write_json(dwi_dir / f"{stem}_dwi.json", sidecar)
        write_nifti(dwi_dir / f"{stem}_adc.nii.gz", adc)
        write_json(dwi_dir / f"{stem}_adc.json", {**sidecar, "DiffusionBValue": 0.0})
        if flair:
            anat_dir = session / "anat" if nested else session
            suffix = "FLAIR" if nested else "flair"
            write_nifti(anat_dir / f"{stem}_{suffix}.nii.gz", flair_like(dwi))
        write_nifti(root / "derivatives" / f"sub-{subject}" / "ses-0001" / f"{stem}_msk.nii.gz",
                    mask.astype(np.uint16))
        cohort.volumes_ml[subject] = volume_ml(mask)
        cohort.splits[subject] = "train"
    (root / "participants.tsv").write_text("participant_id\tcenter\tage\tchronic_infarct\n" + "".join(
        f"sub-strokecase{index:04d}\tcentre{index % 2}\t{60 + index}\t{'yes' if index == 2 else 'no'}\n"
        for index in range(1, n_cases + 1)))
    return cohort


def flair_like(dwi: np.ndarray) -> np.ndarray:
    """The same anatomy on a finer in-plane (1 mm) and thicker-slice (6 mm) grid, FLAIR-like contrast."""
    image = _image(np.where(dwi > 40, 300.0 - dwi, 0.0).astype(np.float32), SPACING_XYZ, ORIGIN_XYZ, None)
    target = sitk.Image([48, 48, 6], sitk.sitkFloat32)
    target.SetSpacing((1.0, 1.0, 6.0))
    target.SetOrigin((ORIGIN_XYZ[0] - 0.5, ORIGIN_XYZ[1] - 0.5, ORIGIN_XYZ[2] + 1.5))
    return sitk.GetArrayFromImage(sitk.Resample(image, target, sitk.Transform(), sitk.sitkLinear, 0.0))


# --------------------------------------------------------------------------------------------------
# ATLAS
# --------------------------------------------------------------------------------------------------
def make_atlas_r20(root: Path, n_train: int = 3, n_test: int = 1, metadata: bool = True) -> FixtureCohort:
    """ATLAS_2/Training/R00X/sub-rXXXsXXX/ses-1/anat/... with masks; Testing/ without; a metadata CSV."""
    cohort = FixtureCohort(root)
    rows = []
    for index in range(n_train + n_test):
        training = index < n_train
        cohort_folder = f"R{index % 2 + 1:03d}"
        subject = f"r{index % 2 + 1:03d}s{index + 1:03d}"
        anat = root / "ATLAS_2" / ("Training" if training else "Testing") / cohort_folder / f"sub-{subject}" / \
            "ses-1" / "anat"
        stem = f"sub-{subject}_ses-1_space-MNI152NLin2009aSym"
        t1, _, mask = phantom(100 + index)
        write_nifti(anat / f"{stem}_T1w.nii.gz", t1, spacing=(1.0, 1.0, 1.0))
        if training:
            write_nifti(anat / f"{stem}_label-L_desc-T1lesion_mask.nii.gz", mask, spacing=(1.0, 1.0, 1.0))
            cohort.volumes_ml[subject] = volume_ml(mask, (1.0, 1.0, 1.0))
        cohort.splits[subject] = "train" if training else "test"
        rows.append(f"sub-{subject},Site{index % 3},{cohort_folder}")
    if metadata:
        (root / "ATLAS_2" / "metadata.csv").write_text("Subject ID,Site,Cohort folder\n" + "\n".join(rows) + "\n")
    return cohort


def make_atlas_r12(root: Path, n_cases: int = 3) -> FixtureCohort:
    """Site*/<subject>/t01/<subject>_t1w_deface_stx.nii.gz with one or two LesionSmooth masks (union)."""
    cohort = FixtureCohort(root)
    for index in range(n_cases):
        subject = f"0317{index:02d}"
        folder = root / f"Site{index % 2 + 1}" / subject / "t01"
        t1, _, mask = phantom(200 + index)
        write_nifti(folder / f"{subject}_t1w_deface_stx.nii.gz", t1, spacing=(1.0, 1.0, 1.0))
        if index % 2 == 0:
            # two partial masks that overlap: their union is the lesion
            first = mask.copy()
            first[: SHAPE_ZYX[0] // 2] = 0
            second = mask.copy()
            second[SHAPE_ZYX[0] // 2 + 1:] = 0
            write_nifti(folder / f"{subject}_LesionSmooth_stx.nii.gz", first * 255, spacing=(1.0, 1.0, 1.0))
            write_nifti(folder / f"{subject}_LesionSmooth_1_stx.nii.gz", second, spacing=(1.0, 1.0, 1.0))
        else:
            write_nifti(folder / f"{subject}_LesionSmooth_stx.nii.gz", mask, spacing=(1.0, 1.0, 1.0))
        cohort.volumes_ml[subject] = volume_ml(mask, (1.0, 1.0, 1.0))
        cohort.splits[subject] = "train"
    return cohort


# --------------------------------------------------------------------------------------------------
# WMH challenge
# --------------------------------------------------------------------------------------------------
WMH_SITES = ("Utrecht", "Singapore", "Amsterdam/GE3T")


def make_wmh(root: Path, per_site: int = 1, test_site: bool = True) -> FixtureCohort:
    """training/<Site>/<subject>/wmh.nii.gz (0/1/2) + pre/FLAIR.nii.gz + pre/T1.nii.gz; one test subject."""
    cohort = FixtureCohort(root)
    layout = [("training", site) for site in WMH_SITES for _ in range(per_site)]
    if test_site:
        layout.append(("test", "Utrecht"))
    for number, (split_folder, site) in enumerate(layout):
        folder = root / split_folder / site / str(number)
        flair, _, mask = phantom(300 + number)
        labels = mask.astype(np.uint8)
        labels[2, 10:14, 10:14] = 2  # "other pathology"
        write_nifti(folder / "wmh.nii.gz", labels.astype(np.float32))
        write_nifti(folder / "pre" / "FLAIR.nii.gz", flair)
        write_nifti(folder / "pre" / "T1.nii.gz", (flair.max() - flair).astype(np.float32))
        case_id = f"{site.replace('/', '_')}_{number}"
        cohort.volumes_ml[case_id] = volume_ml(labels == 1)
        cohort.splits[case_id] = "train" if split_folder == "training" else "test"
    return cohort


# --------------------------------------------------------------------------------------------------
# Multi-site DWI registry (manifest of NIfTI files)
# --------------------------------------------------------------------------------------------------
REGISTRY_HEADER = ("case_id,dwi,adc,mask,site,vendor,field_strength_t,onset_to_imaging_h,location,chronic_infarct,"
                   "wmh_volume_ml,split,scanner_room")


def make_registry(root: Path, n_cases: int = 4, n_test: int = 1) -> FixtureCohort:
    """root/manifest.csv + images/<case>_{dwi,adc}.nii.gz + masks/<case>.nii.gz; the last ``n_test`` rows are
    ``split=test`` (the last one without mask)."""
    cohort = FixtureCohort(root)
    lines = [REGISTRY_HEADER]
    for index in range(n_cases):
        case_id = f"H{index % 3 + 1:02d}-{index:04d}"
        dwi, adc, mask = phantom(400 + index)
        write_nifti(root / "images" / f"{case_id}_dwi.nii.gz", dwi)
        write_nifti(root / "images" / f"{case_id}_adc.nii.gz", adc)
        write_nifti(root / "masks" / f"{case_id}.nii.gz", mask)
        test = index >= n_cases - n_test
        unlabelled = test and index == n_cases - 1
        _, vendor, tesla = VENDORS[index % len(VENDORS)]
        mask_cell = "" if unlabelled else f"masks/{case_id}.nii.gz"
        lines.append(f"{case_id},images/{case_id}_dwi.nii.gz,images/{case_id}_adc.nii.gz,{mask_cell},"
                     f"hospital{index % 3 + 1},{vendor},{tesla},{1.5 + index},cortex,{'yes' if index % 2 else 'no'},"
                     f"{2.5 * index},{'test' if test else 'train'},room{index}")
        if not unlabelled:
            cohort.volumes_ml[case_id] = volume_ml(mask)
        cohort.splits[case_id] = "test" if test else "train"
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return cohort


#: Grid of the DWI-like infarct masks of :func:`make_flair_registry` (x, y, z spacing in mm; z, y, x shape).
INFARCT_SPACING_XYZ: tuple[float, float, float] = (1.5, 1.5, 4.0)
INFARCT_SHAPE_ZYX: tuple[int, int, int] = (9, 30, 30)


def make_flair_registry(root: Path, n_cases: int = 4, readings: int = 1) -> FixtureCohort:
    """A FLAIR-only multi-site WMH registry (Kim's cohort shape): manifest.csv with ``flair``, one ``mask`` (or
    ``mask_1`` ... ``mask_<readings>``) holding 0 / 1 = WMH / 2 = other pathology, ``infarct_mask`` on a
    DWI-like grid of its own for every case but the last, a sidecar beside each FLAIR (vendor, field strength),
    and site / vendor / field-strength columns (no onset column). With several readings, reader r leaves out
    the WMH voxels ``(z + y + x) % readings == r``: every WMH voxel is marked by ``readings - 1`` readers, so
    a vote of ``readings - 1`` gives the full WMH and a unanimous vote gives none.
    ``volumes_ml`` holds the WMH volume (full masks) and ``extra`` the infarct volume per case."""
    cohort = FixtureCohort(root)
    mask_columns = ["mask"] if readings == 1 else [f"mask_{number}" for number in range(1, readings + 1)]
    lines = [",".join(["case_id", "flair", *mask_columns, "infarct_mask", "site", "vendor", "field_strength_t",
                       "split"])]
    parity = np.sum(np.indices(SHAPE_ZYX), axis=0) % max(readings, 1)
    for index in range(n_cases):
        case_id = f"K{index % 2 + 1}-{index:03d}"
        flair, _, wmh = phantom(500 + index)
        labels = wmh.astype(np.uint8)
        labels[1, 2:5, 2:5] = 2  # other pathology (replaces any WMH there)
        write_nifti(root / "flair" / f"{case_id}.nii.gz", flair)
        manufacturer, _, tesla = VENDORS[index % len(VENDORS)]
        write_json(root / "flair" / f"{case_id}.json", {"Manufacturer": manufacturer, "MagneticFieldStrength": tesla})
        cells = []
        for reader in range(len(mask_columns)):
            reading = labels.copy()
            if readings > 1:
                reading[(labels == 1) & (parity == reader)] = 0
            write_nifti(root / "masks" / f"{case_id}_{mask_columns[reader]}.nii.gz", reading)
            cells.append(f"masks/{case_id}_{mask_columns[reader]}.nii.gz")
        infarct_cell = ""
        if index < n_cases - 1:
            infarct = np.zeros(INFARCT_SHAPE_ZYX, np.uint8)
            infarct[3:5, 10:10 + 2 * (index + 1), 12:16] = 1
            write_nifti(root / "infarcts" / f"{case_id}.nii.gz", infarct, spacing=INFARCT_SPACING_XYZ)
            infarct_cell = f"infarcts/{case_id}.nii.gz"
            cohort.extra[case_id] = volume_ml(infarct, INFARCT_SPACING_XYZ)
        lines.append(",".join([case_id, f"flair/{case_id}.nii.gz", *cells, infarct_cell, f"hospital{index % 2 + 1}",
                               "", "", "train"]))
        cohort.volumes_ml[case_id] = volume_ml(labels == 1)
        cohort.splits[case_id] = "train"
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return cohort


# --------------------------------------------------------------------------------------------------
# DICOM (for the dcm2niix path)
# --------------------------------------------------------------------------------------------------
_DICOM_MANUFACTURERS = {"Siemens": "SIEMENS", "GE": "GE MEDICAL SYSTEMS", "Philips": "Philips Medical Systems"}


def write_dicom_series(folder: Path, volumes: Sequence[np.ndarray], b_values: Sequence[float], vendor: str,
                       field_strength: float, series_number: int, description: str, derived_adc: bool = False,
                       pixel_spacing: tuple[float, float] = (1.2, 1.0), slice_thickness: float = 4.0,
                       origin: tuple[float, float, float] = (-10.0, -8.0, -12.0)) -> None:
    """One DICOM series (classic single-frame MR files) of uint16 volumes (z, y, x), one per b-value, with the
    vendor's diffusion tags that dcm2niix reads (Siemens 0019,100C; GE 0043,1039 + 0019,10BB-BD; Philips
    2001,1003) and the standard 0018,9087. ``pixel_spacing`` is (row spacing = y, column spacing = x) in mm."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    series_uid, frame_uid = generate_uid(), generate_uid()
    study_uid = "1.2.826.0.1.3680043.8.498.1"
    instance = 0
    for volume, b_value in zip(volumes, b_values, strict=True):
        for z, plane in enumerate(np.asarray(volume, dtype=np.uint16)):
            instance += 1
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
            ds.Modality, ds.PatientName, ds.PatientID = "MR", "Phantom^Case", "PHANTOM1"
            ds.Manufacturer = _DICOM_MANUFACTURERS[vendor]
            ds.ManufacturerModelName = f"{vendor} model"
            ds.MagneticFieldStrength = field_strength
            ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = series_number, instance, 1
            ds.SeriesDescription = description
            ds.ImageType = ["DERIVED", "PRIMARY", "ADC", "ADC"] if derived_adc else ["ORIGINAL", "PRIMARY", "DIFFUSION",
                                                                                    "NONE"]
            ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "EP", "SK", "2D"
            ds.EchoTime, ds.RepetitionTime = 90, 5000
            ds.SliceThickness = ds.SpacingBetweenSlices = slice_thickness
            ds.PixelSpacing = list(pixel_spacing)
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [origin[0], origin[1], origin[2] + slice_thickness * z]
            ds.SliceLocation = origin[2] + slice_thickness * z
            ds.PatientPosition, ds.InPlanePhaseEncodingDirection = "HFS", "COL"
            ds.AcquisitionTime = "101010.00"
            ds.Rows, ds.Columns = plane.shape
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PixelData = plane.tobytes()
            if not derived_adc:
                _add_b_value_tags(ds, vendor, float(b_value))
            pydicom.dcmwrite(folder / f"s{series_number:02d}_{instance:04d}.dcm", ds, enforce_file_format=True)


def _add_b_value_tags(ds, vendor: str, b_value: float) -> None:
    if vendor == "Siemens":
        ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", str(int(b_value)))
    elif vendor == "GE":
        ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(
            0x39, "IS", [str(int(b_value) + 1000000000), "8", "0", "0"])
        block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
        for element, value in ((0xBB, 1.0 if b_value else 0.0), (0xBC, 0.0), (0xBD, 0.0)):
            block.add_new(element, "DS", str(value))
    else:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x03, "FL", b_value)
    ds.add_new(0x00189087, "FD", b_value)


def dicom_grid_mask(mask: np.ndarray, pixel_spacing: tuple[float, float] = (1.2, 1.0), slice_thickness: float = 4.0,
                    origin: tuple[float, float, float] = (-10.0, -8.0, -12.0)) -> sitk.Image:
    """A mask on the DICOM series' grid in LPS (the voxel order of the DICOM files, not dcm2niix's)."""
    return _image(mask.astype(np.uint8), (pixel_spacing[1], pixel_spacing[0], slice_thickness), origin, None)


# --------------------------------------------------------------------------------------------------
# Checks shared by the converter tests
# --------------------------------------------------------------------------------------------------
def assert_lesion_volumes_match(dataset_dir: Path, cohort: FixtureCohort, lesion_label: int = 1) -> None:
    """cases.csv holds one row per expected case, in the expected split, with the lesion volume of the source
    mask; the written label file has that volume too."""
    from strokeseg.cases import read_cases

    cases = read_cases(dataset_dir / "cases.csv").set_index("case_id")
    assert sorted(cases.index) == sorted(cohort.splits), (sorted(cases.index), sorted(cohort.splits))
    for case_id, split in cohort.splits.items():
        assert cases.loc[case_id, "split"] == split
    for case_id, expected in cohort.volumes_ml.items():
        assert abs(float(cases.loc[case_id, "lesion_volume_ml"]) - expected) < 1e-6, case_id
        folder = "labelsTr" if cohort.splits[case_id] == "train" else "labelsTs"
        label = sitk.ReadImage(str(dataset_dir / folder / f"{case_id}.nii.gz"))
        written = np.count_nonzero(sitk.GetArrayFromImage(label) == lesion_label) * np.prod(label.GetSpacing()) / 1000
        assert abs(written - expected) < 1e-6, case_id
