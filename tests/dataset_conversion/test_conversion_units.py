"""Pure pieces of the converters: mask checks, lesion statistics, b-value selection, ADC, BIDS names, grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from strokeseg.cases import safe_case_id
from strokeseg.dataset_conversion.bids import (
    merge_with_sidecar,
    nominal_field_strength,
    parse_bids_name,
    sidecar_metadata,
    sidecar_path,
)
from strokeseg.dataset_conversion.diffusion import combine_volumes, compute_adc, read_bval, select_b_volumes
from strokeseg.dataset_conversion.sources import normalise_split
from strokeseg.dataset_conversion.validation import (
    count_components,
    lesion_statistics,
    normalise_mask,
    union_of_masks,
)
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.location.registration import register_and_resample

SAMPLE = Path(__file__).parents[1] / "data" / "isles22_sample" / "rawdata" / "sub-strokecase0009" / "ses-0001"


# ------------------------------------------------------------------------------------------- masks and lesions
@pytest.mark.parametrize("lesion_value", [1, 255, 1.0])
def test_binary_mask_with_any_single_lesion_value_becomes_0_1(lesion_value: float) -> None:
    values = np.zeros((3, 4, 4), dtype=np.float32)
    values[1, 1:3, 1:3] = lesion_value
    result = normalise_mask(values, {0, 1}, binary=True)
    assert result.dtype == np.uint8
    assert set(np.unique(result).tolist()) == {0, 1}
    assert int(result.sum()) == 4


def test_two_lesion_values_are_not_binary() -> None:
    values = np.array([0, 1, 2], dtype=np.uint8).reshape(1, 1, 3)
    with pytest.raises(InputDataError, match=r"is not binary: it holds the values \{0, 1, 2\}"):
        normalise_mask(values, {0, 1}, binary=True)


def test_probabilities_are_rejected() -> None:
    with pytest.raises(InputDataError, match="non-integer values"):
        normalise_mask(np.array([0.0, 0.5, 1.0]).reshape(1, 1, 3), {0, 1}, binary=True)


@pytest.mark.parametrize("binary", [True, False])
def test_negative_values_are_rejected_not_taken_as_lesion_or_background(binary: bool) -> None:
    with pytest.raises(InputDataError, match=r"holds negative values \(\{-1\}\)"):
        normalise_mask(np.array([0, -1, -1], dtype=np.int16).reshape(1, 1, 3), {0, 1}, binary=binary)


def test_multi_label_mask_keeps_allowed_values_and_rejects_others() -> None:
    good = np.array([0, 1, 2], dtype=np.float32).reshape(1, 1, 3)
    assert normalise_mask(good, {0, 1, 2}, binary=False).tolist() == [[[0, 1, 2]]]
    with pytest.raises(InputDataError, match=r"only \{0, 1, 2\} are allowed"):
        normalise_mask(np.array([0, 3]).reshape(1, 1, 2), {0, 1, 2}, binary=False)


def test_union_of_masks() -> None:
    first = np.array([[[1, 0, 0]]], dtype=np.uint8)
    second = np.array([[[0, 1, 0]]], dtype=np.uint8)
    assert union_of_masks([first, second]).tolist() == [[[1, 1, 0]]]


def test_components_depend_on_connectivity() -> None:
    diagonal = np.zeros((3, 3, 3), dtype=bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True          # share a corner only
    edge = np.zeros((3, 3, 3), dtype=bool)
    edge[0, 0, 0] = edge[0, 1, 1] = True                  # share an edge only
    assert count_components(diagonal, 26) == 1
    assert count_components(diagonal, 18) == 2
    assert count_components(edge, 18) == 1
    assert count_components(edge, 6) == 2


def test_lesion_statistics_in_millilitres() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 1        # 8 voxels
    labels[6:8, 6:8, 6:9] = 1        # 12 voxels, separate
    labels[0, 9, 9] = 2              # ignore label: not counted
    stats = lesion_statistics(labels, (2.0, 1.0, 0.5), lesion_label=1)
    assert stats.volume_ml == pytest.approx(20 * 1.0 / 1000.0)
    assert stats.n_lesions == 2


# ------------------------------------------------------------------------------------------- diffusion
def test_select_b_picks_nearest_high_b_and_all_its_directions() -> None:
    b_values = [0, 5, 500, 995, 1000, 1005, 2000]
    indices, b_value = select_b_volumes(b_values, 1000)
    assert indices == [3, 4, 5]
    assert b_value == pytest.approx(1000.0)
    assert select_b_volumes(b_values, 0) == ([0, 1], pytest.approx(2.5))
    assert select_b_volumes([0, 800, 800], 1000)[0] == [1, 2]  # nearest high b when 1000 is absent
    assert select_b_volumes([0, 1500, 500], 1000) == ([2], 500.0)  # a tie goes to the lower b


def test_select_b_without_weighted_volume_says_so() -> None:
    with pytest.raises(InputDataError, match="no diffusion-weighted volume"):
        select_b_volumes([0, 0], 1000)
    with pytest.raises(InputDataError, match="no b = 0 volume"):
        select_b_volumes([1000], 0)


def test_geometric_mean_of_directions_and_adc() -> None:
    volumes = np.array([[[[4.0]]], [[[9.0]]]])
    assert combine_volumes(volumes, geometric=True).item() == pytest.approx(6.0)
    assert combine_volumes(volumes, geometric=False).item() == pytest.approx(6.5)
    s0 = np.full((1, 1, 2), 1000.0)
    sb = np.array([[[1000.0 * np.exp(-1000 * 0.8e-3), 0.0]]])
    adc = compute_adc(s0, sb, 1000.0)
    assert adc[0, 0, 0] == pytest.approx(800.0, rel=1e-5)  # 0.8e-3 mm²/s = 800 × 10⁻⁶ mm²/s
    assert adc[0, 0, 1] == 0.0


def test_read_bval(tmp_path: Path) -> None:
    (tmp_path / "a.bval").write_text("0 1000\t1000\n")
    assert read_bval(tmp_path / "a.bval") == (0.0, 1000.0, 1000.0)
    (tmp_path / "b.bval").write_text("zero")
    with pytest.raises(InputDataError, match="other than numbers"):
        read_bval(tmp_path / "b.bval")


# ------------------------------------------------------------------------------------------- names and metadata
def test_bids_names_are_parsed_by_entities() -> None:
    parsed = parse_bids_name(Path("sub-r001s001_ses-1_space-MNI152NLin2009aSym_label-L_desc-T1lesion_mask.nii.gz"))
    assert parsed is not None
    assert parsed.entity("sub") == "r001s001"
    assert parsed.entity("desc") == "T1lesion"
    assert parsed.suffix == "mask"
    assert parse_bids_name(Path("031768_t1w_deface_stx.nii.gz")) is None
    assert parse_bids_name(Path("notes.txt")) is None


def test_sidecar_metadata_snaps_field_strength_and_maps_vendor() -> None:
    values = sidecar_metadata({"Manufacturer": "SIEMENS", "MagneticFieldStrength": 2.89362,
                               "ManufacturersModelName": "Skyra", "DiffusionBValue": 1000, "SliceThickness": 5})
    assert values == {"vendor": "Siemens", "field_strength_t": 3.0, "b_value": 1000.0, "slice_thickness_mm": 5.0,
                      "scanner_model": "Skyra"}
    assert nominal_field_strength(1.494) == 1.5
    assert nominal_field_strength(15000) == 1.5  # gauss
    assert nominal_field_strength(2.0) == 2.0    # not near a nominal value: kept


def test_split_aliases_and_safe_ids() -> None:
    assert [normalise_split(v, "x") for v in ("Training", "ts", "", None)] == ["train", "test", "train", "train"]
    with pytest.raises(ConfigurationError, match="row 3: split 'validation'"):
        normalise_split("validation", "row 3")
    assert safe_case_id(" Seoul/case 01 ") == "Seoul_case_01"


def _half_resolution_dwi() -> sitk.Image:
    """The real DWI at 4 mm (56×56×37 voxels): registration tests stay fast."""
    return sitk.BinShrink(sitk.ReadImage(str(SAMPLE / "sub-strokecase0009_ses-0001_dwi.nii.gz"), sitk.sitkFloat32),
                          [2, 2, 2])


def test_rigid_registration_recovers_a_known_displacement_of_the_real_dwi() -> None:
    dwi = _half_resolution_dwi()
    displaced = sitk.Image(dwi)
    displaced.SetOrigin(tuple(np.asarray(dwi.GetOrigin()) + np.array([6.0, -4.0, 3.0])))  # 7.8 mm off
    result = register_and_resample(displaced, dwi, "rigid")
    assert result.method == "rigid"
    assert result.mean_shift_mm == pytest.approx(np.sqrt(36 + 16 + 9), abs=1.0)
    truth = sitk.GetArrayFromImage(dwi)
    brain = truth > np.percentile(truth, 60)
    registered_error = np.abs(sitk.GetArrayFromImage(result.image) - truth)[brain].mean()
    unregistered = sitk.GetArrayFromImage(register_and_resample(displaced, dwi, "none").image)
    assert registered_error < 0.25 * np.abs(unregistered - truth)[brain].mean()


def test_registration_beyond_the_qc_limit_falls_back_to_scanner_coordinates() -> None:
    dwi = _half_resolution_dwi()
    displaced = sitk.Image(dwi)
    displaced.SetOrigin(tuple(np.asarray(dwi.GetOrigin()) + np.array([6.0, -4.0, 3.0])))
    result = register_and_resample(displaced, dwi, "rigid", max_mean_shift_mm=2.0)
    assert result.method == "scanner"
    assert result.rejected_shift_mm is not None and result.rejected_shift_mm > 2.0


def test_resume_fingerprint_of_a_prepare_step_has_no_memory_address() -> None:
    import functools

    from strokeseg.dataset_conversion.dicom import resolve_dicom_case
    from strokeseg.dataset_conversion.runner import describe_callable

    described = describe_callable(functools.partial(resolve_dicom_case, dicom_dir=Path("/x"), channels=("DWI",)))
    assert described == ("strokeseg.dataset_conversion.dicom.resolve_dicom_case(; channels=('DWI',), "
                         "dicom_dir=/x)")
    assert "0x" not in described


def test_sidecar_path_and_merge_with_sidecar() -> None:
    assert sidecar_path(Path("/d/case_dwi.nii.gz")) == Path("/d/case_dwi.json")
    assert sidecar_path(Path("/d/Case.DWI.NII")) == Path("/d/Case.DWI.json")
    given = {"vendor": "Siemens", "field_strength_t": 3.0, "b_value": "1000", "scanner_model": "", "site": "h1",
             "slice_thickness_mm": float("nan")}
    sidecar = {"vendor": "siemens ", "field_strength_t": 1.5, "b_value": 1000.0, "scanner_model": "Skyra",
               "slice_thickness_mm": 5.0}
    merged = merge_with_sidecar(given, sidecar)
    assert merged.values == {"vendor": "Siemens", "field_strength_t": 3.0, "b_value": "1000", "scanner_model": "Skyra",
                             "site": "h1", "slice_thickness_mm": 5.0}
    assert merged.conflicts == ("field_strength_t: manifest 3.0, sidecar 1.5",)
    assert merge_with_sidecar(given, {}).values == given and merge_with_sidecar(given, {}).conflicts == ()
