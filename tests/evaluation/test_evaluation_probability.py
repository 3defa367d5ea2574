"""Threshold-free maximal Dice and Kim et al.'s ensemble uncertainty index (docs/evaluation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strokeseg.evaluation.probability import ensemble_mean_probability, max_dice, uncertainty_index, voxel_kl_divergence
from strokeseg.nnunet.probabilities import check_probability, foreground_probability


def _dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    total = prediction.sum() + reference.sum()
    return 1.0 if total == 0 else 2.0 * np.logical_and(prediction, reference).sum() / total


def test_max_dice_equals_the_best_of_every_threshold() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        reference = rng.random((6, 7, 8)) < 0.3
        probability = np.clip(0.6 * reference + rng.normal(0.2, 0.2, reference.shape), 0, 1).astype(np.float32)
        probability[0, 0, :3] = probability[1, 1, 1]  # ties
        brute_force = max(_dice(probability >= t, reference) for t in np.unique(probability))
        value, threshold = max_dice(probability, reference)
        assert value == pytest.approx(brute_force)
        assert _dice(probability >= threshold, reference) == pytest.approx(value)


def test_max_dice_hand_example() -> None:
    probability = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    reference = np.array([True, False, True, True, False])
    # t = 0.9: 2·1/(1+3) = 0.5; t = 0.7: 2·2/(3+3) = 0.667; t = 0.2: 2·3/(4+3) = 0.857
    assert max_dice(probability, reference) == pytest.approx((6 / 7, 0.2))


def test_max_dice_empty_reference() -> None:
    value, threshold = max_dice(np.full((2, 2, 2), 0.3), np.zeros((2, 2, 2), dtype=bool))
    assert value == 1.0 and math.isnan(threshold)


def test_kl_divergence_matches_scipy_entropy() -> None:
    for p in (0.0, 0.01, 0.3, 0.5, 0.77, 1.0):
        for prior in (0.5, 0.2):
            expected = stats.entropy([p, 1 - p], [prior, 1 - prior])
            assert float(voxel_kl_divergence(p, prior)) == pytest.approx(expected, abs=1e-12)
    assert float(voxel_kl_divergence(0.5)) == 0.0
    with pytest.raises(ValueError, match="strictly between"):
        voxel_kl_divergence(0.5, prior=1.0)


def test_uncertainty_index_hand_example() -> None:
    # KL(Bern(p) ‖ Bern(0.5)) < 0.5 nats  ⇔  0.1 < p < 0.9 roughly (KL(0.9) = 0.368, KL(0.99) = 0.637)
    mean = np.array([0.99, 0.9, 0.6, 0.51, 0.999, 0.2])
    predicted = np.array([True, True, True, True, True, False])
    # uncertain: 0.9, 0.6, 0.51 -> 3 of 5 predicted voxels
    assert uncertainty_index(mean, predicted) == pytest.approx(3 / 5)
    assert uncertainty_index(mean, predicted, divergence_threshold=0.3) == pytest.approx(2 / 5)
    assert math.isnan(uncertainty_index(mean, np.zeros(6, dtype=bool)))


def test_ensemble_mean_and_nnunet_probabilities() -> None:
    softmax = np.stack([np.full((2, 3, 4), 0.7), np.full((2, 3, 4), 0.2), np.full((2, 3, 4), 0.1)])
    assert np.allclose(foreground_probability(softmax), 0.3)
    assert np.allclose(foreground_probability(softmax[1:2]), 0.2)
    members = [np.full((2, 2, 2), 0.2), np.full((2, 2, 2), 0.6)]
    assert np.allclose(ensemble_mean_probability(members), 0.4)
    with pytest.raises(ValueError, match="differ in shape"):
        ensemble_mean_probability([np.zeros((2, 2, 2)), np.zeros((2, 2, 3))])
    with pytest.raises(ValueError, match="shape \\(C, z, y, x\\)"):
        foreground_probability(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="not logits"):
        check_probability(np.array([0.2, 1.7]))
