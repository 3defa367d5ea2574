"""Per-case metrics pinned on hand-computed shapes, every empty-mask case, MONAI and ISLES'22 agreement.

Each test names the definition of docs/evaluation.md it pins.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from strokeseg.evaluation.case_metrics import METRIC_COLUMNS, CaseMetrics, evaluate_pair
from strokeseg.evaluation.lesion_matching import LesionCounts, lesion_counts, lesion_f1
from strokeseg.evaluation.overlap import ConfusionCounts, dice, micro_dice, precision, sensitivity
from strokeseg.evaluation.surface import SurfaceDistances, hausdorff95
from strokeseg.masks import surface
from strokeseg.synthetic.lesion_pairs import lesion_pair


def cube_pair() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A 4×4×4 cube and the same cube shifted by one voxel along z, spacing (z, y, x) = (0.5, 2, 3) mm."""
    reference = np.zeros((8, 6, 6), dtype=bool)
    prediction = np.zeros_like(reference)
    reference[1:5, 1:5, 1:5] = True
    prediction[2:6, 1:5, 1:5] = True
    return reference, prediction, (0.5, 2.0, 3.0)


def test_cube_shifted_by_one_voxel_on_an_anisotropic_grid() -> None:
    # Worked by hand (docs/evaluation.md): each 4×4×4 cube has 56 surface voxels (8 interior). Of P's surface,
    # its top face (16) lies 1 z-voxel = 0.5 mm above R's top face, its bottom face's 4 inner voxels 0.5 mm
    # above R's bottom face, and the other 36 lie on R's surface; R→P is the mirror image.
    reference, prediction, spacing = cube_pair()
    metrics = evaluate_pair(reference, prediction, spacing)
    assert (metrics.tp, metrics.fp, metrics.fn) == (48, 16, 16)
    assert metrics.dice == pytest.approx(0.75)
    assert metrics.sensitivity == pytest.approx(0.75)
    assert metrics.precision == pytest.approx(0.75)
    assert metrics.vol_ref_ml == pytest.approx(64 * 0.5 * 2 * 3 / 1000)
    assert metrics.vol_pred_ml == pytest.approx(0.192)
    assert metrics.avd_ml == pytest.approx(0.0)
    assert metrics.hd == pytest.approx(0.5)
    assert metrics.hd95 == pytest.approx(0.5)
    assert metrics.assd == pytest.approx((40 * 0.5) / 112)
    assert metrics.nsd == pytest.approx(1.0)
    at_quarter_mm = evaluate_pair(reference, prediction, spacing, nsd_tolerance_mm=0.25)
    assert at_quarter_mm.nsd == pytest.approx(72 / 112)
    assert (metrics.lesion_tp, metrics.lesion_fp, metrics.lesion_fn, metrics.lesion_f1) == (1, 0, 0, 1.0)


def _ball(shape: tuple[int, int, int], centre: tuple[int, int, int], radius: float) -> np.ndarray:
    z, y, x = np.indices(shape)
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2


def test_two_spheres_at_a_known_offset() -> None:
    # The prediction is the reference translated by 3 voxels (6 mm) along x. Every surface voxel of P has its
    # translate on ∂R (≤ 6 mm away) and P's front-most voxel is exactly 6 mm beyond R's, so hd = 6 mm.
    shape, spacing = (24, 24, 30), (2.0, 2.0, 2.0)
    reference = _ball(shape, (12, 12, 12), 6)
    prediction = _ball(shape, (12, 12, 15), 6)
    lattice_points = sum(1 for z in range(-6, 7) for y in range(-6, 7) for x in range(-6, 7)
                         if z * z + y * y + x * x <= 36)
    overlap = sum(1 for z in range(-6, 7) for y in range(-6, 7) for x in range(-6, 7)
                  if z * z + y * y + x * x <= 36 and z * z + y * y + (x - 3) ** 2 <= 36)
    metrics = evaluate_pair(reference, prediction, spacing)
    assert metrics.tp == overlap
    assert metrics.dice == pytest.approx(overlap / lattice_points)
    assert metrics.vol_ref_ml == pytest.approx(lattice_points * 8 / 1000)
    assert metrics.hd == pytest.approx(6.0)
    assert 0 < metrics.hd95 <= 6.0
    assert 0 < metrics.assd < metrics.hd95
    swapped = evaluate_pair(prediction, reference, spacing)
    assert (swapped.hd, swapped.hd95, swapped.assd, swapped.nsd, swapped.dice) == pytest.approx(
        (metrics.hd, metrics.hd95, metrics.assd, metrics.nsd, metrics.dice))


def test_single_voxel_lesions_apart() -> None:
    reference = np.zeros((10, 10, 10), dtype=bool)
    prediction = np.zeros_like(reference)
    reference[5, 5, 5] = True
    prediction[6, 6, 6] = True  # diagonal neighbour: sqrt(1² + 2² + 3²) mm away
    metrics = evaluate_pair(reference, prediction, (1.0, 2.0, 3.0))
    distance = math.sqrt(14.0)
    assert (metrics.hd, metrics.hd95, metrics.assd) == pytest.approx((distance, distance, distance))
    assert metrics.nsd == 0.0
    assert metrics.dice == 0.0
    assert metrics.vol_ref_ml == pytest.approx(0.006)
    # corner-touching voxels are one lesion only if both masks are joined, which lesions never are
    assert (metrics.lesion_tp, metrics.lesion_fp, metrics.lesion_fn, metrics.lesion_f1) == (0, 1, 1, 0.0)
    assert (metrics.n_lesions_ref, metrics.n_lesions_pred, metrics.lesion_count_diff) == (1, 1, 0)


def test_single_voxel_lesion_found() -> None:
    reference = np.zeros((5, 5, 5), dtype=np.uint8)
    reference[2, 2, 2] = 1
    metrics = evaluate_pair(reference, reference.copy(), (1.0, 1.0, 1.0))
    assert (metrics.dice, metrics.hd, metrics.hd95, metrics.assd, metrics.nsd, metrics.lesion_f1) == (
        1.0, 0.0, 0.0, 0.0, 1.0, 1.0)


def test_both_masks_empty() -> None:
    empty = np.zeros((4, 5, 6), dtype=bool)
    metrics = evaluate_pair(empty, empty, (1.0, 1.0, 1.0))
    assert metrics.dice == 1.0
    assert math.isnan(metrics.sensitivity) and math.isnan(metrics.precision)
    assert (metrics.hd, metrics.hd95, metrics.assd, metrics.nsd) == (0.0, 0.0, 0.0, 1.0)
    assert (metrics.lesion_f1, metrics.n_lesions_ref, metrics.n_lesions_pred, metrics.lesion_count_diff) == (
        1.0, 0, 0, 0)
    assert (metrics.vol_ref_ml, metrics.vol_pred_ml, metrics.avd_ml) == (0.0, 0.0, 0.0)


def test_empty_reference_nonempty_prediction() -> None:
    reference = np.zeros((6, 6, 6), dtype=bool)
    prediction = np.zeros_like(reference)
    prediction[1, 1, 1] = prediction[4, 4, 4] = True
    metrics = evaluate_pair(reference, prediction, (1.0, 1.0, 2.0))
    assert metrics.dice == 0.0
    assert math.isnan(metrics.sensitivity)
    assert metrics.precision == 0.0
    assert all(math.isnan(v) for v in (metrics.hd, metrics.hd95, metrics.assd))
    assert metrics.nsd == 0.0
    assert (metrics.lesion_tp, metrics.lesion_fp, metrics.lesion_fn, metrics.lesion_f1) == (0, 2, 0, 0.0)
    assert metrics.vol_diff_ml == pytest.approx(0.004)
    assert metrics.lesion_count_diff == 2


def test_empty_prediction_nonempty_reference() -> None:
    reference = np.zeros((6, 6, 6), dtype=bool)
    reference[2:4, 2:4, 2:4] = True
    metrics = evaluate_pair(reference, np.zeros_like(reference), (1.0, 1.0, 1.0))
    assert (metrics.dice, metrics.sensitivity) == (0.0, 0.0)
    assert math.isnan(metrics.precision)
    assert all(math.isnan(v) for v in (metrics.hd, metrics.hd95, metrics.assd))
    assert metrics.nsd == 0.0
    assert (metrics.lesion_tp, metrics.lesion_fp, metrics.lesion_fn, metrics.lesion_f1) == (0, 0, 1, 0.0)
    assert metrics.vol_diff_ml == pytest.approx(-0.008)


def test_surface_counts_voxels_beyond_the_border_as_outside() -> None:
    full = np.ones((3, 3, 3), dtype=bool)
    assert np.count_nonzero(surface(full)) == 26  # only the centre has all 6 neighbours inside
    slab = np.ones((1, 4, 4), dtype=bool)
    assert np.array_equal(surface(slab), slab)
    # the engine crops to the lesions: a lesion at the array border keeps the border convention
    reference = np.zeros((5, 5, 5), dtype=bool)
    reference[0:3, 0:3, 0:3] = True
    assert evaluate_pair(reference, reference, (1.0, 1.0, 1.0)).hd == 0.0


def test_hd95_is_the_maximum_of_the_two_directed_percentiles() -> None:
    distances = SurfaceDistances(pred_to_ref=np.arange(21, dtype=float), ref_to_pred=np.zeros(100),
                                 pred_empty=False, ref_empty=False)
    # directed P95 of 0..20 is 19 (linear interpolation); pooling both sets (MedPy) would give a smaller value
    assert hausdorff95(distances) == pytest.approx(19.0)
    assert np.percentile(np.concatenate([distances.pred_to_ref, distances.ref_to_pred]), 95) < 19.0


def test_overlap_formulas_and_micro_dice() -> None:
    counts = ConfusionCounts(tp=3, fp=1, fn=2)
    assert dice(counts) == pytest.approx(6 / 9)
    assert sensitivity(counts) == pytest.approx(0.6)
    assert precision(counts) == pytest.approx(0.75)
    assert micro_dice([3, 0], [1, 0], [2, 4]) == pytest.approx(6 / 13)
    assert micro_dice([0], [0], [0]) == 1.0


@pytest.mark.parametrize(("offset", "expected"), [((1, 0, 0), (1, 1, 1)), ((1, 1, 0), (2, 1, 1)),
                                                    ((1, 1, 1), (2, 2, 1))])
def test_lesion_connectivity(offset: tuple[int, int, int], expected: tuple[int, int, int]) -> None:
    # two voxels sharing a face, an edge or a corner are one lesion at 6/18/26-connectivity as expected
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[1, 1, 1] = True
    mask[1 + offset[0], 1 + offset[1], 1 + offset[2]] = True
    counts = [lesion_counts(mask, mask, connectivity).n_reference for connectivity in (6, 18, 26)]
    assert tuple(counts) == expected


def test_lesion_f1_definition() -> None:
    assert lesion_f1(LesionCounts(tp=2, fp=1, fn=1, n_reference=3, n_prediction=3)) == pytest.approx(2 / 3)
    assert lesion_f1(LesionCounts(0, 0, 0, 0, 0)) == 1.0


def test_case_metrics_columns_are_the_documented_names() -> None:
    assert METRIC_COLUMNS == (
        "tp", "fp", "fn", "dice", "sensitivity", "precision", "vol_ref_ml", "vol_pred_ml", "vol_diff_ml", "avd_ml",
        "hd", "hd95", "assd", "nsd", "lesion_tp", "lesion_fp", "lesion_fn", "lesion_f1", "n_lesions_ref",
        "n_lesions_pred", "lesion_count_diff")
    reference, prediction, spacing = cube_pair()
    assert list(evaluate_pair(reference, prediction, spacing).as_row()) == list(METRIC_COLUMNS)
    assert isinstance(evaluate_pair(reference, prediction, spacing), CaseMetrics)


def test_bad_inputs_are_rejected() -> None:
    mask = np.zeros((4, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate_pair(mask, np.zeros((4, 4, 5), dtype=bool), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="positive"):
        evaluate_pair(mask, mask, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="3-D"):
        evaluate_pair(mask[0], mask[0], (1.0, 1.0))
    with pytest.raises(ValueError, match="connectivity"):
        evaluate_pair(mask, mask, (1.0, 1.0, 1.0), connectivity=8)


def _random_pairs(count: int, seed: int = 7) -> list[tuple[np.ndarray, np.ndarray, tuple[float, float, float]]]:
    rng = np.random.default_rng(seed)
    pairs = []
    for index in range(count):
        spacing = (float(rng.uniform(1.0, 5.0)), float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 1.5)))
        reference, prediction = lesion_pair((16, 40, 36), spacing, rng, radius_mm=(2.0, 8.0))
        if index % 3 == 0:  # speckle: many tiny lesions and rough surfaces
            reference |= rng.random(reference.shape) < 0.002
            prediction |= rng.random(prediction.shape) < 0.002
        if reference.any() and prediction.any():
            pairs.append((reference, prediction, spacing))
    return pairs


def test_agreement_with_monai_hd_hd95_assd_nsd() -> None:
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    for reference, prediction, spacing in _random_pairs(6):
        ours = evaluate_pair(reference, prediction, spacing, nsd_tolerance_mm=1.5)
        pred_t = torch.from_numpy(prediction[None, None].astype(np.float32))
        ref_t = torch.from_numpy(reference[None, None].astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hd = monai_metrics.compute_hausdorff_distance(pred_t, ref_t, spacing=spacing).item()
            hd95 = monai_metrics.compute_hausdorff_distance(pred_t, ref_t, percentile=95, spacing=spacing).item()
            assd = monai_metrics.compute_average_surface_distance(pred_t, ref_t, symmetric=True,
                                                                  spacing=spacing).item()
            nsd = monai_metrics.compute_surface_dice(pred_t, ref_t, class_thresholds=[1.5], spacing=spacing,
                                                     include_background=True).item()
        assert ours.hd == pytest.approx(hd, rel=1e-5)
        assert ours.hd95 == pytest.approx(hd95, rel=1e-5)
        assert ours.assd == pytest.approx(assd, rel=1e-5)
        assert ours.nsd == pytest.approx(nsd, abs=1e-6)


def _isles22_lesion_f1(reference: np.ndarray, prediction: np.ndarray) -> tuple[float, int]:
    """The ISLES'22 challenge definition, one component at a time (26-connectivity)."""
    structure = np.ones((3, 3, 3), dtype=bool)
    reference_labels, n_reference = ndimage.label(reference, structure)
    prediction_labels, n_prediction = ndimage.label(prediction, structure)
    tp = fn = fp = 0
    for label in range(1, n_reference + 1):
        if np.logical_and(reference_labels == label, prediction).any():
            tp += 1
        else:
            fn += 1
    for label in range(1, n_prediction + 1):
        if not np.logical_and(prediction_labels == label, reference).any():
            fp += 1
    f1 = 1.0 if tp + fp + fn == 0 else tp / (tp + (fp + fn) / 2)
    return f1, abs(n_reference - n_prediction)


def test_agreement_with_the_isles22_lesion_f1_on_random_masks() -> None:
    rng = np.random.default_rng(3)
    for _ in range(8):
        reference = ndimage.binary_opening(rng.random((12, 20, 20)) < 0.35)
        prediction = ndimage.binary_opening(rng.random((12, 20, 20)) < 0.35) | (reference & (rng.random(
            reference.shape) < 0.3))
        metrics = evaluate_pair(reference, prediction, (1.0, 1.0, 1.0))
        f1, count_difference = _isles22_lesion_f1(reference, prediction)
        assert metrics.lesion_f1 == pytest.approx(f1)
        assert metrics.lesion_count_diff == count_difference
