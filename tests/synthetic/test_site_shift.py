"""The shifted site set: documented real-world ranges, and the shift measured on the written images."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.cli import main
from strokeseg.errors import ConfigurationError
from strokeseg.io import read_array
from strokeseg.location.lookup import load_location_atlas
from strokeseg.synthetic import DWI_SITES, SHIFTED_DWI_SITES, SiteProfile, site_set
from strokeseg.synthetic.choices import SITE_SETS
from strokeseg.synthetic.contrast import fat_ghost, onset_adc_factor
from strokeseg.synthetic.phantom import make_phantom
from strokeseg.synthetic.sites import DWI_SITE_SETS, REAL_WORLD_RANGES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "synthetic.md"
#: Case 1 of seed 5 with a corona-radiata infarct: 5-18 mL and imaged < 72 h after onset at every shifted site.
SEED, INDEX = 5, 1
#: ADC band of normal tissue (10^-6 mm²/s): excludes CSF and background.
TISSUE_ADC = (300.0, 1300.0)


def _values(site: SiteProfile, name: str) -> tuple[float, ...]:
    value = getattr(site, name)
    return tuple(value) if isinstance(value, tuple) else (value,)


def test_every_shifted_parameter_lies_in_its_documented_real_world_range() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name, (low, high) in REAL_WORLD_RANGES.items():
        assert re.search(rf"`{name}`[^\n]*\| {low:g}[–-]{high:g}", text), f"docs/synthetic.md lacks the range of {name}"
        for site in SHIFTED_DWI_SITES:
            assert all(low <= value <= high for value in _values(site, name)), (site.name, name)
    internal, external = SHIFTED_DWI_SITES[:2], SHIFTED_DWI_SITES[2]
    for name in ("noise_level", "bias_field_strength", "blur_mm", "fat_ghost"):  # worse at the external site
        assert all(getattr(external, name) > getattr(site, name) for site in internal), name
    assert all(external.lesion_conspicuity < site.lesion_conspicuity for site in internal)
    assert all(max(external.slice_thickness_mm) > max(s.slice_thickness_mm) for s in internal)
    assert all(external.in_plane_mm[0] > s.in_plane_mm[1] for s in internal)
    assert external.b_value < min(site.b_value for site in internal)


def test_the_default_sites_keep_their_images_and_the_sets_are_named() -> None:
    neutral = SiteProfile("x", "GE", "GE MEDICAL SYSTEMS", "m", 3.0)
    for site in DWI_SITES:  # the new parameters stay neutral: default cohorts are unchanged
        assert (site.lesion_conspicuity, site.adc_scale, site.fat_ghost) == (1.0, 1.0, 0.0)
    assert (neutral.lesion_conspicuity, neutral.adc_scale, neutral.fat_ghost) == (1.0, 1.0, 0.0)
    assert tuple(DWI_SITE_SETS) == SITE_SETS
    assert site_set("registry", "shifted") == SHIFTED_DWI_SITES and site_set("wmh") != SHIFTED_DWI_SITES
    with pytest.raises(ConfigurationError, match="layout wmh"):
        site_set("wmh", "shifted")
    with pytest.raises(ConfigurationError, match="conspicuity"):
        SiteProfile("x", "GE", "GE MEDICAL SYSTEMS", "m", 3.0, lesion_conspicuity=0.0)
    assert main(["synth", "--out", "unused", "--layout", "atlas2", "-n", "1", "--site-set", "shifted"]) == 2


def test_the_fat_ghost_is_displaced_along_the_phase_encoding_axis() -> None:
    scalp = np.zeros((4, 60, 40), np.float32)
    scalp[:, 10:14, 10:30] = 1.0
    spacing = (6.0, 1.5, 1.5)
    assert not fat_ghost(scalp, SHIFTED_DWI_SITES[0], spacing).any()
    external = SHIFTED_DWI_SITES[2]
    ghost = fat_ghost(scalp, external, spacing)
    assert ghost.max() == pytest.approx(external.fat_ghost)
    shift_voxels = ndimage.center_of_mass(ghost)[1] - ndimage.center_of_mass(scalp)[1]
    assert shift_voxels * spacing[1] == pytest.approx(external.fat_ghost_shift_mm, abs=0.1)


def _written(case_images: dict[str, sitk.Image], label: sitk.Image, folder: Path) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name, image in (*case_images.items(), ("label", label)):
        sitk.WriteImage(image, str(folder / f"{name}.nii.gz"), True)
        arrays[name], geometry = read_array(folder / f"{name}.nii.gz")
        arrays[f"{name}_spacing"] = np.asarray(geometry.spacing)
    return arrays


def _background_sigma(b0: np.ndarray) -> float:
    """Rician noise sigma (stored units) from the air in the four in-plane corners (Rayleigh mean σ√(π/2))."""
    corners = [b0[:, :12, :12], b0[:, :12, -12:], b0[:, -12:, :12], b0[:, -12:, -12:]]
    return float(np.mean([corner.mean() for corner in corners])) / np.sqrt(np.pi / 2.0)


def _relative_lesion_adc(adc: np.ndarray, lesion: np.ndarray) -> float:
    """Median ADC of the lesion's in-plane interior over that of the tissue 2-4 voxels around it."""
    in_plane = np.ones((1, 3, 3), bool)
    interior = ndimage.binary_erosion(lesion, in_plane)
    shell = ndimage.binary_dilation(lesion, in_plane, iterations=4) & ~ndimage.binary_dilation(lesion, in_plane)
    tissue = (adc > TISSUE_ADC[0]) & (adc < TISSUE_ADC[1])
    return float(np.median(adc[interior]) / np.median(adc[shell & tissue]))


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    cache = tmp_path_factory.getbasetemp() / "strokeseg_cache"
    load_location_atlas(cache)
    root = tmp_path_factory.mktemp("shifted_sites")
    results = {}
    for site in SHIFTED_DWI_SITES:
        case = make_phantom(INDEX, SEED, site, "acute", lesion_classes=("corona radiata",), cache_dir=cache)
        assert case.plan.onset_h < 72.0 and case.metadata["lesion_volume_ml"] > 4.0  # the measurements need it
        arrays = _written(case.images, case.label, root / site.name)
        lesion, adc = arrays["label"] > 0, arrays["adc"].astype(np.float64)
        normal = (adc > TISSUE_ADC[0]) & (adc < TISSUE_ADC[1]) & ~ndimage.binary_dilation(lesion, iterations=2)
        spacing = arrays["dwi_spacing"]  # x, y, z
        results[site.name] = {
            "in_plane_mm": float(spacing[0]), "slice_mm": float(spacing[2]),
            "noise_level": _background_sigma(arrays["b0"].astype(np.float64)) / site.intensity_scale,
            "relative_lesion_adc": _relative_lesion_adc(adc, lesion),
            "expected_relative_lesion_adc": 1.0 - site.lesion_conspicuity * (1.0 - onset_adc_factor(case.plan.onset_h)),
            "fully_conspicuous_relative_lesion_adc": onset_adc_factor(case.plan.onset_h),
            "normal_adc": float(np.median(adc[normal])),
        }
    return results


def test_the_shift_is_measurable_on_the_written_images(measured: dict[str, dict[str, float]]) -> None:
    sites = {site.name: site for site in SHIFTED_DWI_SITES}
    for name, values in measured.items():
        site = sites[name]
        assert site.in_plane_mm[0] - 1e-6 <= values["in_plane_mm"] <= site.in_plane_mm[1] + 1e-6
        assert values["slice_mm"] in site.slice_thickness_mm
        assert values["noise_level"] == pytest.approx(site.noise_level, rel=0.1), name
        assert values["relative_lesion_adc"] == pytest.approx(values["expected_relative_lesion_adc"], abs=0.05), name
    a, b, c = (measured[site.name] for site in SHIFTED_DWI_SITES)
    assert a["noise_level"] < b["noise_level"] < c["noise_level"]
    # less conspicuous: the external site's lesion ADC drop is smaller than a fully conspicuous lesion's of the same
    # onset by at least half the designed difference (the onset differs per case, so compare within the case)
    for site, values in zip(SHIFTED_DWI_SITES, (a, b, c), strict=True):
        designed = (1.0 - site.lesion_conspicuity) * (1.0 - values["fully_conspicuous_relative_lesion_adc"])
        gap = values["relative_lesion_adc"] - values["fully_conspicuous_relative_lesion_adc"]
        assert gap == pytest.approx(designed, abs=0.05), site.name
    c_site = SHIFTED_DWI_SITES[2]
    assert c_site.lesion_conspicuity < min(site.lesion_conspicuity for site in SHIFTED_DWI_SITES[:2])
    assert c["relative_lesion_adc"] - c["fully_conspicuous_relative_lesion_adc"] > 0.5 * (
        (1.0 - c_site.lesion_conspicuity) * (1.0 - c["fully_conspicuous_relative_lesion_adc"]))
    scale = {name: sites[name].adc_scale / SHIFTED_DWI_SITES[0].adc_scale for name in sites}
    assert b["normal_adc"] / a["normal_adc"] == pytest.approx(scale["ShiftB"], abs=0.03)
    assert c["normal_adc"] / a["normal_adc"] == pytest.approx(scale["ShiftC"], abs=0.04)
