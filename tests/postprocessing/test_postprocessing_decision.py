"""Post-processing that never hurts: the small-lesion guard, lesion sensitivity, the bootstrap gate, small fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cohort_fixtures import write_nifti

from strokeseg.cli import main
from strokeseg.defaults import POSTPROCESS_MIN_FIT_CASES
from strokeseg.errors import ConfigurationError
from strokeseg.io import read_array
from strokeseg.postprocessing import apply_postprocessing, fit_postprocessing
from strokeseg.postprocessing.decision import decision_reason, gain_evidence, small_lesion_guard
from strokeseg.postprocessing.selection import case_components, case_scores, sweep_min_volume

SPACING = (1.0, 1.0, 1.0)  # 1 voxel = 0.001 mL
SHAPE = (20, 40, 40)
VOXEL_ML = 0.001


def _box(mask: np.ndarray, corner: tuple[int, int, int], size: tuple[int, int, int]) -> np.ndarray:
    (z, y, x), (dz, dy, dx) = corner, size
    mask[z:z + dz, y:y + dy, x:x + dx] = True
    return mask


def _empty() -> np.ndarray:
    return np.zeros(SHAPE, dtype=bool)


def _specks(mask: np.ndarray, count: int, size: tuple[int, int, int]) -> np.ndarray:
    """``count`` false-positive boxes in the far corner (z 12-19, y 0-11, x 28-39), apart from each other."""
    for index in range(count):
        _box(mask, (12 + 4 * (index // 3), 1 + 4 * (index % 3), 30), size)
    return mask


def _write(root: Path, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Path, Path]:
    predictions, references = root / "pred", root / "ref"
    for index, (reference, prediction) in enumerate(pairs):
        write_nifti(references / f"case_{index:03d}.nii.gz", reference.astype(np.uint8), SPACING)
        write_nifti(predictions / f"case_{index:03d}.nii.gz", prediction.astype(np.uint8), SPACING)
    return predictions, references


def _speckled_case(n_specks: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Two true lesions predicted exactly, plus 2-voxel false positives far from them."""
    reference = _box(_box(_empty(), (2, 2, 2), (6, 6, 6)), (10, 25, 25), (5, 5, 5))
    return reference, _specks(reference.copy(), n_specks, (1, 1, 2))


def test_a_helpful_rule_is_chosen_recorded_and_applied(tmp_path: Path) -> None:
    predictions, references = _write(tmp_path, [_speckled_case() for _ in range(POSTPROCESS_MIN_FIT_CASES)])
    params_file = tmp_path / "params.json"
    result = fit_postprocessing(predictions, references, params_file)
    assert json.loads(params_file.read_text()) == result
    assert result["decision"]["postprocess"] and result["decision"]["reason"].startswith("post-processing")
    assert 0.002 < result["params"]["min_volume_ml"] <= result["evidence"]["small_lesion_guard"]["max_min_volume_ml"]
    gain = result["evidence"]["gain"]
    assert gain["ci_low"] > 0 and gain["cases_improved"] == POSTPROCESS_MIN_FIT_CASES and gain["cases_worse"] == 0
    assert gain["detected_lesions_after"] == gain["detected_lesions_before"] == gain["reference_lesions"] == 40
    assert result["validation"]["after"]["mean_dice"] == 1.0
    data = result["data"]
    assert data["n_cases"] == POSTPROCESS_MIN_FIT_CASES and data["cross_validation_folds"] is None
    assert data["case_ids"][0] == "case_000" and data["references"] == str(references)
    apply_postprocessing(predictions, params_file, tmp_path / "post")  # enough cases: no force needed
    cleaned, _ = read_array(tmp_path / "post" / "case_000.nii.gz")
    assert np.array_equal(cleaned != 0, _speckled_case()[0])


def test_apply_refuses_a_fit_on_few_cases_unless_forced(tmp_path: Path) -> None:
    predictions, references = _write(tmp_path, [_speckled_case() for _ in range(3)])
    params_file = tmp_path / "params.json"
    assert fit_postprocessing(predictions, references, params_file)["decision"]["postprocess"]
    with pytest.raises(ConfigurationError, match="fitted on 3 validation case"):
        apply_postprocessing(predictions, params_file, tmp_path / "post")
    assert not (tmp_path / "post").exists()
    args = ["postprocess", "apply", "--predictions", str(predictions), "--params", str(params_file),
            "--out", str(tmp_path / "post")]
    assert main(args) == 2
    assert main([*args, "--allow-small-fit"]) == 0
    assert len(list((tmp_path / "post").glob("*.nii.gz"))) == 3


def test_the_quantile_guard_never_removes_a_component_as_large_as_small_reference_lesions(tmp_path: Path) -> None:
    # every case: a large lesion predicted exactly, a missed 8-voxel lesion, 20-voxel and 2-voxel false positives;
    # without the guard, removing everything below 21 voxels scores best
    pairs = []
    for _ in range(4):
        reference = _box(_box(_empty(), (2, 2, 2), (6, 6, 6)), (10, 25, 25), (2, 2, 2))
        prediction = _box(_specks(reference & ~_box(_empty(), (10, 25, 25), (2, 2, 2)), 2, (1, 1, 2)),
                          (16, 30, 2), (2, 2, 5))
        pairs.append((reference, prediction))
    tables = [case_components(prediction, reference, VOXEL_ML) for reference, prediction in pairs]
    assert sweep_min_volume(tables).min_volume_ml > 0.020  # what an unguarded fit would do
    guard = small_lesion_guard(tables, 0.05)
    assert guard.max_min_volume_ml == pytest.approx(0.008)
    assert guard.smallest_reference_lesion_ml == pytest.approx(0.008)
    predictions, references = _write(tmp_path, pairs)
    result = fit_postprocessing(predictions, references, tmp_path / "params.json")
    recorded = result["evidence"]["small_lesion_guard"]
    assert recorded["max_min_volume_ml"] == pytest.approx(0.008) and recorded["reference_lesions"] == 8
    assert result["decision"]["postprocess"]  # the 2-voxel specks still go
    assert 0.002 < result["params"]["min_volume_ml"] <= 0.008
    apply_postprocessing(predictions, tmp_path / "params.json", tmp_path / "post", allow_small_fit=True)
    kept, _ = read_array(tmp_path / "post" / "case_000.nii.gz")
    assert kept[16:18, 30:32, 2:7].all() and not kept[12:13, 1:2, 30:32].any()


def test_no_reference_lesion_means_nothing_may_be_removed() -> None:
    prediction = _specks(_empty(), 3, (1, 1, 2))
    tables = [case_components(prediction, _empty(), VOXEL_ML)]
    guard = small_lesion_guard(tables, 0.05)
    assert guard.max_min_volume_ml == 0.0 and guard.reference_lesions == 0
    assert sweep_min_volume(tables, max_volume_ml=guard.max_min_volume_ml).min_volume_ml == 0.0
    assert sweep_min_volume(tables).min_volume_ml > 0.0


def _fragment_case() -> tuple[np.ndarray, np.ndarray]:
    """A large lesion and a 27-voxel lesion detected only by a 2-voxel component; 3-voxel false positives."""
    reference = _box(_box(_empty(), (2, 2, 2), (6, 6, 6)), (10, 25, 25), (3, 3, 3))
    prediction = _box(_empty(), (2, 2, 2), (6, 6, 6))
    _box(prediction, (11, 26, 26), (1, 1, 2))
    return reference, _specks(prediction, 6, (1, 1, 3))


def test_a_rule_that_loses_reference_lesions_is_never_chosen(tmp_path: Path) -> None:
    pairs = [_fragment_case() for _ in range(4)]
    tables = [case_components(prediction, reference, VOXEL_ML) for reference, prediction in pairs]
    unconstrained = sweep_min_volume(tables)
    assert unconstrained.min_volume_ml > 0.002 and unconstrained.score > unconstrained.unprocessed_score
    assert case_scores(tables, unconstrained.min_volume_ml).detected_lesions < case_scores(tables).detected_lesions
    assert sweep_min_volume(tables, min_detected_lesions=8).min_volume_ml == 0.0
    predictions, references = _write(tmp_path, pairs)
    result = fit_postprocessing(predictions, references, tmp_path / "params.json")
    assert not result["decision"]["postprocess"] and result["params"]["min_volume_ml"] == 0.0
    assert result["evidence"]["gain"]["detected_lesions_after"] == 8
    assert result["validation"]["after"] == result["validation"]["before"]


def test_a_lesion_loss_rejects_a_candidate_whatever_its_gain() -> None:
    reference_cases, candidate_cases = [], []
    for _ in range(4):
        reference, prediction = _fragment_case()
        reference_cases.append(case_components(prediction, reference, VOXEL_ML))
        candidate_cases.append(case_components(prediction & ~_box(_empty(), (11, 26, 26), (1, 1, 2))
                                               & ~_specks(_empty(), 6, (1, 1, 3)), reference, VOXEL_ML))
    evidence = gain_evidence(case_scores(reference_cases), case_scores(candidate_cases), "dice")
    assert evidence.robust and not evidence.sensitivity_kept
    adopt, reason = decision_reason(evidence, changes_anything=True)
    assert not adopt and "loses reference lesions (8 -> 4" in reason


def _fragmented_lesion_case() -> tuple[np.ndarray, np.ndarray]:
    """A 518-voxel lesion predicted as a 512-voxel cube plus a detached 4-voxel piece inside the lesion."""
    reference = _box(_box(_empty(), (2, 2, 2), (8, 8, 8)), (5, 5, 10), (1, 1, 6))
    prediction = _box(_box(_empty(), (2, 2, 2), (8, 8, 8)), (5, 5, 12), (1, 1, 4))
    return reference, prediction


def test_a_gain_whose_bootstrap_interval_reaches_zero_keeps_the_identity(tmp_path: Path) -> None:
    # one case gains from removing two 5-voxel false positives; three lose a 4-voxel piece of a true lesion
    # (still detected): the mean Dice gain is positive, but a quarter of the resamples hold no gaining case
    helped = _box(_empty(), (2, 2, 2), (6, 6, 6))
    pairs = [(helped, _specks(helped.copy(), 2, (1, 1, 5))), *(_fragmented_lesion_case() for _ in range(3))]
    predictions, references = _write(tmp_path, pairs)
    result = fit_postprocessing(predictions, references, tmp_path / "params.json")
    gain = result["evidence"]["gain"]
    assert gain["mean_gain"] > 0 and gain["ci_low"] <= 0 < gain["ci_high"]
    assert gain["cases_improved"] == 1 and gain["cases_worse"] == 3
    assert result["decision"]["candidate"]["min_volume_ml"] > 0.005
    assert not result["decision"]["postprocess"] and "not robust" in result["decision"]["reason"]
    assert result["params"]["min_volume_ml"] == 0.0 and result["params"]["hysteresis_high"] is None
    assert result["validation"]["after"] == result["validation"]["before"]
