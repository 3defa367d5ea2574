"""DICOM series of one case -> DWI (b ≈ 1000), b0 and ADC NIfTI files, with dcm2niix.

dcm2niix (PyPI package ``dcm2niix``, which ships the binary) converts every series below the case's DICOM
folder and writes BIDS sidecars (vendor, field strength, model) and ``.bval`` files; series acquired with
several b-values become 4-D files. strokeseg then

* collects every diffusion volume of every series that has a ``.bval``;
* DWI = the volumes whose b is nearest ``target_b`` among b > ``B0_MAX_B_VALUE`` (directions combined by
  geometric mean, i.e. the isotropic trace image); b0 = the b = 0 volumes (averaged);
* ADC = the scanner's ADC series when there is exactly one (``ImageType`` or series description says ADC),
  else computed from b0 and DWI as ln(S0/Sb)/b in 10⁻⁶ mm²/s (``adc_source`` = ``scanner``/``computed``);
* vendor, field strength, scanner model and slice thickness from the DWI series' sidecar; the voxel size
  from the NIfTI header.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from strokeseg.dataset_conversion.bids import (
    CONFLICTS_COLUMN,
    merge_with_sidecar,
    read_sidecar,
    report_conflicts,
    sidecar_metadata,
)
from strokeseg.dataset_conversion.case_conversion import spatial_geometry
from strokeseg.dataset_conversion.diffusion import combine_volumes, compute_adc, read_bval, select_b_volumes
from strokeseg.dataset_conversion.sources import CaseSource, ChannelSource
from strokeseg.defaults import B0_MAX_B_VALUE, TARGET_B_VALUE
from strokeseg.errors import ExternalToolError, InputDataError
from strokeseg.io import Geometry, array_to_image, read_array, write_image_atomic
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI

logger = logging.getLogger(__name__)

#: Channels a DICOM case can provide.
DICOM_CHANNELS: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_ADC, CHANNEL_B0)


@dataclass(frozen=True)
class SeriesFile:
    """One NIfTI file dcm2niix wrote, with its sidecar and (diffusion series) b-values."""

    path: Path
    sidecar: dict[str, Any]
    b_values: tuple[float, ...] | None

    @property
    def is_adc(self) -> bool:
        """An ADC map: ``ImageType`` contains ADC, or the series description or file name says so."""
        image_type = [str(item).upper() for item in self.sidecar.get("ImageType", [])]
        description = str(self.sidecar.get("SeriesDescription", "")).upper()
        return ("ADC" in image_type or "ADC" in description.replace("_", " ").split()
                or "APPARENT DIFFUSION" in description or self.path.name.upper().endswith("_ADC.NII.GZ"))


def dcm2niix_executable() -> str:
    """Path of the dcm2niix binary shipped by the ``dcm2niix`` PyPI package (else one on PATH).

    Raises:
        ExternalToolError: no dcm2niix binary is available.
    """
    try:
        import dcm2niix

        candidate = Path(dcm2niix.bin)
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("dcm2niix")
    if found is None:
        raise ExternalToolError("dcm2niix was not found: install the PyPI package 'dcm2niix' (pip install dcm2niix)")
    return found


def run_dcm2niix(dicom_dir: Path, out_dir: Path) -> list[SeriesFile]:
    """Convert every DICOM series below ``dicom_dir`` into ``out_dir``; returns the NIfTI files written.

    Raises:
        InputDataError: ``dicom_dir`` is missing or dcm2niix finds no image in it.
        ExternalToolError: dcm2niix fails; the message quotes its output.
    """
    if not dicom_dir.is_dir():
        raise InputDataError(f"DICOM folder {dicom_dir} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [dcm2niix_executable(), "-z", "y", "-b", "y", "-ba", "y", "-f", "%s_%d", "-o", str(out_dir),
               str(dicom_dir)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    output = (completed.stdout + completed.stderr).strip()
    files = sorted(out_dir.glob("*.nii.gz"))
    if completed.returncode not in (0, 2) and not files:  # dcm2niix returns 2 when it found no DICOM
        tail = " | ".join(output.splitlines()[-5:])
        raise ExternalToolError(f"dcm2niix failed on {dicom_dir} (exit code {completed.returncode}): {tail}")
    if not files:
        raise InputDataError(f"DICOM folder {dicom_dir}: dcm2niix found no image series (is it a DICOM folder?)")
    logger.debug("dcm2niix %s: %s", dicom_dir, output.splitlines()[-1:] if output else "")
    series = []
    for path in files:
        stem = path.name.removesuffix(".nii.gz")
        bval = path.with_name(f"{stem}.bval")
        series.append(SeriesFile(path, read_sidecar(path.with_name(f"{stem}.json")),
                                 read_bval(bval) if bval.is_file() else None))
    return series


def resolve_dicom_case(case: CaseSource, scratch: Path, dicom_dir: Path, channels: Sequence[str],
                       target_b: float = TARGET_B_VALUE) -> CaseSource:
    """The ``prepare`` step of a DICOM case: run dcm2niix and return the case with NIfTI channels in ``scratch``.

    Metadata already in ``case.metadata`` (from the manifest) wins over the sidecars; the sidecars fill the
    gaps (vendor, field_strength_t, scanner_model, slice_thickness_mm); ``b_value`` is the selected b.

    Raises:
        InputDataError: no diffusion series, no b = 0 or diffusion-weighted volume, several ADC series.
    """
    series = run_dcm2niix(dicom_dir, scratch / "dcm2niix")
    diffusion = [item for item in series if item.b_values is not None and not item.is_adc]
    if not diffusion:
        names = ", ".join(item.path.name for item in series)
        raise InputDataError(f"DICOM folder {dicom_dir}: no diffusion series with b-values among {names}")
    dwi, dwi_b, dwi_series, grid = _select(diffusion, target_b, dicom_dir)
    b0, _, b0_series, b0_grid = _select(diffusion, 0.0, dicom_dir) if CHANNEL_B0 in channels or \
        (CHANNEL_ADC in channels) else (None, 0.0, [], grid)
    written: dict[str, Path] = {CHANNEL_DWI: _write(dwi, grid, scratch / "DWI.nii.gz")}
    sources = {f"source_{CHANNEL_DWI}": ";".join(sorted({str(item.path.name) for item in dwi_series}))}
    extra: dict[str, Any] = {}
    if b0 is not None and CHANNEL_B0 in channels:
        written[CHANNEL_B0] = _write(b0, b0_grid, scratch / "b0.nii.gz")
        sources[f"source_{CHANNEL_B0}"] = ";".join(sorted({str(item.path.name) for item in b0_series}))
    if CHANNEL_ADC in channels:
        scanner_adc = [item for item in series if item.is_adc]
        if len(scanner_adc) > 1:
            raise InputDataError(f"DICOM folder {dicom_dir}: {len(scanner_adc)} ADC series "
                                 f"({', '.join(item.path.name for item in scanner_adc)}); keep one")
        if scanner_adc:
            written[CHANNEL_ADC] = scanner_adc[0].path
            sources[f"source_{CHANNEL_ADC}"] = scanner_adc[0].path.name
            extra["adc_source"] = "scanner"
        else:
            assert b0 is not None
            if b0_grid.differences(grid):
                raise InputDataError(f"DICOM folder {dicom_dir}: the b = 0 and b = {dwi_b:g} volumes lie on different "
                                     "grids, so no ADC map can be computed; add the scanner's ADC series")
            written[CHANNEL_ADC] = _write(compute_adc(b0, dwi, dwi_b), grid, scratch / "ADC.nii.gz")
            extra["adc_source"] = "computed"
    given = {key: value for key, value in case.metadata.items() if key != "b_value"}  # the selected b is the truth
    merged = merge_with_sidecar(given, {**sidecar_metadata(dwi_series[0].sidecar), "b_value": round(dwi_b, 3)})
    report_conflicts(case.case_id, "DICOM sidecar", merged.conflicts)
    metadata = {**merged.values, **extra, **{key: f"{dicom_dir}:{value}" for key, value in sources.items()}}
    if merged.conflicts:
        metadata[CONFLICTS_COLUMN] = "; ".join(merged.conflicts)
    channel_sources = tuple(ChannelSource(name, written[name]) for name in channels)
    return replace(case, channels=channel_sources, metadata=metadata, prepare=None)


def _select(diffusion: list[SeriesFile], target_b: float,
            dicom_dir: Path) -> tuple[np.ndarray, float, list[SeriesFile], Geometry]:
    """Volumes at ``target_b`` across all diffusion series, combined; returns (image, b, series used, grid)."""
    volumes = [(item, index, b) for item in diffusion for index, b in enumerate(item.b_values or ())]
    try:
        chosen, b_value = select_b_volumes([b for _, _, b in volumes], target_b)
    except InputDataError as error:
        raise InputDataError(f"DICOM folder {dicom_dir}: {error}") from None
    arrays, grid, used = [], None, []
    for position in chosen:
        item, index, _ = volumes[position]
        array, geometry = read_array(item.path, "diffusion series")
        spatial = spatial_geometry(geometry)
        if grid is None:
            grid = spatial
        elif spatial.differences(grid):
            raise InputDataError(f"DICOM folder {dicom_dir}: the b = {b_value:g} volumes lie on different grids "
                                 f"({', '.join(sorted({i.path.name for i in [*used, item]}))})")
        arrays.append(array[index] if array.ndim == 4 else array)
        if item not in used:
            used.append(item)
    assert grid is not None
    return combine_volumes(np.stack(arrays), geometric=b_value > B0_MAX_B_VALUE), b_value, used, grid


def _write(array: np.ndarray, grid: Geometry, path: Path) -> Path:
    return write_image_atomic(array_to_image(array.astype(np.float32), grid), path)

