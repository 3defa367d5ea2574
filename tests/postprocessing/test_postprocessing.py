"""Connected-component post-processing: removal, hysteresis, the fitted threshold, fit/apply on files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import truncate
from cohort_fixtures import write_nifti

from strokeseg.cli import main
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError
from strokeseg.evaluation import evaluate_pair
from strokeseg.io import read_array
from strokeseg.postprocessing import apply_postprocessing, fit_postprocessing
from strokeseg.postprocessing.components import (
    PostprocessingParams,
    hysteresis_mask,
    postprocess_mask,
    remove_small_components,
)
from strokeseg.postprocessing.selection import case_components, sweep_min_volume, validation_scores

SPACING = (1.0, 1.0, 1.0)  # 1 voxel = 0.001 mL
SHAPE = (20, 40, 40)


def _cube(mask: np.ndarray, corner: tuple[int, int, int], edge: int, value: int = 1) -> np.ndarray:
    z, y, x = corner
    mask[z:z + edge, y:y + edge, x:x + edge] = value
    return mask


def test_small_components_are_removed_and_every_large_one_kept() -> None:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    _cube(mask, (1, 1, 1), 5)     # 125 voxels = 0.125 mL
    _cube(mask, (1, 20, 20), 4)   # 64 voxels (a second, smaller infarct: must survive, no "largest only")
    _cube(mask, (12, 30, 2), 2)   # 8 voxels
    mask[15, 5, 30] = 1           # 1 voxel
    kept = remove_small_components(mask, min_volume_ml=0.01, voxel_ml=0.001)
    assert kept.sum() == 125 + 64
    assert kept[1, 20, 20] and kept[1, 1, 1] and not kept[12, 30, 2]
    assert remove_small_components(mask, 0.0, 0.001).sum() == mask.astype(bool).sum()
    assert remove_small_components(mask, 0.065, 0.001).sum() == 125  # 64 voxels < 65
    assert remove_small_components(mask, 0.064, 0.001).sum() == 125 + 64  # "below" is strict


def test_connectivity_decides_what_is_one_component() -> None:
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # corner neighbours
    assert remove_small_components(mask, 0.002, 0.001, connectivity=26).sum() == 2
    assert remove_small_components(mask, 0.002, 0.001, connectivity=6).sum() == 0


def test_hysteresis_keeps_seeded_components_grown_to_the_low_threshold() -> None:
    probability = np.zeros(SHAPE)
    probability[2:6, 2:6, 2:6] = 0.4
    probability[3, 3, 3] = 0.95            # seeded: the whole 0.4 block is kept
    probability[10:13, 20:23, 20:23] = 0.6  # never reaches the high threshold: dropped
    result = hysteresis_mask(probability, high=0.9, low=0.3)
    assert result.sum() == 64 and result[2, 2, 2] and not result[11, 21, 21]
    with pytest.raises(ValueError, match="low ≤ high"):
        hysteresis_mask(probability, high=0.3, low=0.5)


def test_postprocess_mask_applies_hysteresis_brain_and_volume_in_order() -> None:
    prediction = np.zeros(SHAPE, dtype=np.uint8)
    probability = np.zeros(SHAPE)
    probability[2:8, 2:8, 2:8] = 0.7
    probability[10:12, 30:32, 30:32] = 0.95  # 8 voxels
    brain = np.ones(SHAPE, dtype=bool)
    brain[:, :, :5] = False                   # cuts the big block to 6x6x3 = 108 voxels
    params = PostprocessingParams(min_volume_ml=0.05, hysteresis_high=0.9, hysteresis_low=0.5, restrict_to_brain=True)
    with pytest.raises(ValueError, match="probability"):
        postprocess_mask(prediction, params, 0.001)
    assert postprocess_mask(prediction, params, 0.001, probability=probability, brain_mask=brain).sum() == 0
    params = PostprocessingParams(min_volume_ml=0.005, hysteresis_high=0.6, hysteresis_low=0.5, restrict_to_brain=True)
    assert postprocess_mask(prediction, params, 0.001, probability=probability, brain_mask=brain).sum() == 108 + 8
    assert PostprocessingParams.from_dict(params.as_dict()) == params
    with pytest.raises(ValueError, match="both thresholds"):
        PostprocessingParams(hysteresis_high=0.5)


def _validation_case(rng: np.random.Generator, noise_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference: two true lesions; prediction: them (slightly eroded) plus scattered 1- to 3-voxel false positives."""
    reference = np.zeros(SHAPE, dtype=bool)
    _cube(reference, (2, 2, 2), 6)
    _cube(reference, (10, 25, 25), 5)
    prediction = reference.copy()
    prediction[2, 2:8, 2:8] = False
    for _ in range(noise_voxels):
        z, y, x = rng.integers(0, 18), rng.integers(0, 12), rng.integers(28, 38)
        prediction[z, y, x:x + rng.integers(1, 3)] = True
    return reference, prediction


def test_sweep_picks_the_known_best_threshold() -> None:
    # components: true lesions of 180 and 125 voxels, false positives of 1-3 voxels, and one 40-voxel
    # false positive: the best threshold removes everything below 125 voxels
    rng = np.random.default_rng(0)
    tables = []
    for index in range(4):
        reference, prediction = _validation_case(rng, noise_voxels=6)
        if index == 0:
            _cube(prediction, (14, 2, 14), 3)  # 27 voxels, false positive
        tables.append(case_components(prediction, reference, 0.001))
    for objective in ("dice", "lesion_f1"):
        result = sweep_min_volume(tables, objective)
        assert 0.027 < result.min_volume_ml < 0.125, objective
        assert result.score > result.unprocessed_score
    scores = validation_scores(tables, 0.1)
    assert scores.mean_lesion_f1 == 1.0
    assert scores.mean_dice == pytest.approx(2 * 305 / (305 + 341))


def test_sweep_keeps_the_identity_when_nothing_helps() -> None:
    reference = _cube(np.zeros(SHAPE, dtype=bool), (2, 2, 2), 6)
    prediction = reference.copy()
    prediction[3, 30, 30] = True
    reference[3, 30, 30] = True  # the small component is a true lesion: removing it only hurts
    result = sweep_min_volume([case_components(prediction, reference, 0.001)], "lesion_f1")
    assert result.min_volume_ml == 0.0 and result.score == result.unprocessed_score == 1.0


def _write_validation_set(root: Path, n_cases: int = 3, probabilities: bool = True) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    predictions, references = root / "pred", root / "ref"
    for index in range(n_cases):
        case = f"case_{index:03d}"
        reference, prediction = _validation_case(rng, noise_voxels=8)
        write_nifti(references / f"{case}.nii.gz", reference.astype(np.uint8), SPACING)
        write_nifti(predictions / f"{case}.nii.gz", prediction.astype(np.uint8), SPACING)
        if probabilities:
            foreground = np.where(prediction, 0.7, 0.05)
            foreground[reference & ~prediction] = 0.45  # recoverable by hysteresis growing to 0.4
            np.savez_compressed(predictions / f"{case}.npz",
                                probabilities=np.stack([1 - foreground, foreground]).astype(np.float32))
    return predictions, references


def _mean_dice(predictions: Path, references: Path) -> float:
    scores = []
    for reference_file in sorted(references.glob("*.nii.gz")):
        reference, _ = read_array(reference_file)
        prediction, _ = read_array(predictions / reference_file.name)
        scores.append(evaluate_pair(reference, prediction, SPACING).dice)
    return float(np.mean(scores))


def test_fit_then_apply_changes_the_scores_as_reported(tmp_path: Path) -> None:
    predictions, references = _write_validation_set(tmp_path)
    params_file = tmp_path / "params.json"
    result = fit_postprocessing(predictions, references, params_file)
    assert json.loads(params_file.read_text()) == result
    params = result["params"]
    assert params["hysteresis_low"] == 0.4 and params["min_volume_ml"] > 0.003
    validation = result["validation"]
    assert validation["before"]["mean_dice"] == pytest.approx(_mean_dice(predictions, references))
    assert validation["after"]["mean_dice"] > validation["before"]["mean_dice"]
    written = apply_postprocessing(predictions, params_file, tmp_path / "post", allow_small_fit=True)
    assert [path.name for path in written] == sorted(path.name for path in predictions.glob("*.nii.gz"))
    assert _mean_dice(tmp_path / "post", references) == pytest.approx(validation["after"]["mean_dice"])
    assert (tmp_path / "post" / "postprocessing.json").is_file()
    with pytest.raises(OutputExistsError):
        apply_postprocessing(predictions, params_file, tmp_path / "post", allow_small_fit=True)
    with pytest.raises(OutputExistsError):
        fit_postprocessing(predictions, references, params_file)
    with pytest.raises(ConfigurationError, match="predictions folder"):
        apply_postprocessing(predictions, params_file, predictions, overwrite=True, allow_small_fit=True)


def test_a_damaged_case_is_left_out_of_fit_and_apply_and_named(tmp_path: Path) -> None:
    predictions, references = _write_validation_set(tmp_path, n_cases=4, probabilities=False)
    truncate(references / "case_002.nii.gz", keep=0.5)
    result = fit_postprocessing(predictions, references, tmp_path / "p.json")
    assert result["validation"]["n_cases"] == 3
    assert [row["case_id"] for row in result["skipped_cases"]] == ["case_002"]
    assert "case_002.nii.gz is incomplete" in result["skipped_cases"][0]["note"]
    with pytest.raises(InputDataError, match="case_002"):
        fit_postprocessing(predictions, references, tmp_path / "q.json", strict=True)
    assert not (tmp_path / "q.json").exists()
    truncate(predictions / "case_001.nii.gz", keep=0.5)
    written = apply_postprocessing(predictions, tmp_path / "p.json", tmp_path / "post", allow_small_fit=True)
    assert [path.name for path in written] == ["case_000.nii.gz", "case_002.nii.gz", "case_003.nii.gz"]
    applied = json.loads((tmp_path / "post" / "postprocessing.json").read_text())
    assert [row["case_id"] for row in applied["skipped_cases"]] == ["case_001"]
    with pytest.raises(InputDataError, match="case_001"):
        apply_postprocessing(predictions, tmp_path / "p.json", tmp_path / "post2", strict=True, allow_small_fit=True)
    assert (tmp_path / "post2" / "case_003.nii.gz").is_file()  # the others are written first


def test_fit_without_probabilities_fits_the_volume_only_and_checks_inputs(tmp_path: Path) -> None:
    predictions, references = _write_validation_set(tmp_path, probabilities=False)
    result = fit_postprocessing(predictions, references, tmp_path / "p.json", objective="lesion_f1")
    assert result["params"]["hysteresis_high"] is None and not result["search"]["hysteresis_searched"]
    assert result["validation"]["after"]["mean_lesion_f1"] == 1.0
    (references / "case_001.nii.gz").unlink()
    with pytest.raises(InputDataError, match="case_001"):
        fit_postprocessing(predictions, references, tmp_path / "q.json")
    with pytest.raises(ConfigurationError, match="objective"):
        fit_postprocessing(predictions, references, tmp_path / "q.json", objective="hd95")


def test_postprocess_cli_fit_and_apply_with_brain_masks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions, references = _write_validation_set(tmp_path, n_cases=2, probabilities=False)
    large_false_positive, _ = read_array(predictions / "case_000.nii.gz")
    write_nifti(predictions / "case_000.nii.gz", _cube(large_false_positive, (10, 2, 30), 6), SPACING)
    brains = tmp_path / "brain"
    for path in predictions.glob("*.nii.gz"):
        brain = np.ones(SHAPE, dtype=np.uint8)
        brain[:, :12, 28:] = 0  # every false positive lies outside the brain, one larger than a true lesion
        write_nifti(brains / path.name, brain, SPACING)
    params = tmp_path / "params.json"
    assert main(["postprocess", "fit", "--predictions", str(predictions), "--references", str(references),
                 "--out", str(params), "--brain-masks", str(brains)]) == 0
    assert "mean dice" in capsys.readouterr().out.lower()
    chosen = json.loads(params.read_text())["params"]
    assert chosen["restrict_to_brain"] and chosen["min_volume_ml"] == 0.0
    assert main(["postprocess", "apply", "--predictions", str(predictions), "--params", str(params),
                 "--out", str(tmp_path / "post"), "--allow-small-fit"]) == 2  # brain masks needed
    assert main(["postprocess", "apply", "--predictions", str(predictions), "--params", str(params),
                 "--out", str(tmp_path / "post"), "--brain-masks", str(brains), "--allow-small-fit"]) == 0
    assert _mean_dice(tmp_path / "post", references) == pytest.approx(
        json.loads(params.read_text())["validation"]["after"]["mean_dice"])


def test_fit_gathers_the_folds_of_a_trained_model_folder(tmp_path: Path) -> None:
    predictions, references = _write_validation_set(tmp_path, n_cases=3)
    model = tmp_path / "Dataset501_X" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    for index, case_file in enumerate(sorted(predictions.glob("*.nii.gz"))):
        fold = model / f"fold_{index % 2}" / "validation"
        fold.mkdir(parents=True, exist_ok=True)
        case = case_file.name.removesuffix(".nii.gz")
        case_file.rename(fold / case_file.name)
        (predictions / f"{case}.npz").rename(fold / f"{case}.npz")
    result = fit_postprocessing(model, references, tmp_path / "cv.json")
    assert result["validation"]["n_cases"] == 3 and result["search"]["hysteresis_searched"]
    assert result["data"]["cross_validation_folds"] == ["0", "1"]
