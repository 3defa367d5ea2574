"""Metrics on probability maps: threshold-free maximal Dice and the ensemble uncertainty index.

Definitions: docs/evaluation.md, "Definitions" (probability maps and the ensemble uncertainty index, Kim et
al.). Probabilities are foreground probabilities in [0, 1] (not logits), as
:func:`strokeseg.nnunet.probabilities.read_foreground_probability` reads them from nnU-Net's
``--save_probabilities`` files. ``strokeseg uncertainty`` (post-processing) uses
:func:`ensemble_mean_probability` and :func:`uncertainty_index` through :mod:`strokeseg.evaluation`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import xlogy

from strokeseg.defaults import UNCERTAINTY_DIVERGENCE_THRESHOLD, UNCERTAINTY_PRIOR


def ensemble_mean_probability(members: Sequence[np.ndarray]) -> np.ndarray:
    """p̄: voxel-wise mean of the members' foreground probabilities (float64)."""
    if not members:
        raise ValueError("an ensemble needs at least one member")
    shapes = {member.shape for member in members}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members differ in shape: {sorted(shapes)}")
    total = np.zeros(members[0].shape, dtype=np.float64)
    for member in members:
        total += member
    return total / len(members)


def max_dice(probability: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Threshold-free maximal Dice: max over thresholds t of Dice({p ≥ t}, R), and the best t.

    The maximum is attained at a probability of a reference voxel (lowering t between two such values only
    adds false positives), so those values are the exact set of candidate thresholds; ties pick the highest
    threshold. Empty reference: 1.0 (any t above every probability predicts nothing; both-empty convention)
    with threshold NaN.

    Returns:
        (maximal Dice, threshold).
    """
    probability = np.asarray(probability)
    reference = np.asarray(reference, dtype=bool)
    if probability.shape != reference.shape:
        raise ValueError(f"probability map {probability.shape} and reference {reference.shape} differ in shape")
    reference_values = np.sort(probability[reference], kind="stable")
    n_reference = reference_values.size
    if n_reference == 0:
        return 1.0, math.nan
    background_values = probability[~reference]
    background_values = np.sort(background_values[background_values >= reference_values[0]], kind="stable")
    thresholds = np.unique(reference_values)
    true_positives = n_reference - np.searchsorted(reference_values, thresholds, side="left")
    false_positives = background_values.size - np.searchsorted(background_values, thresholds, side="left")
    dices = 2.0 * true_positives / (true_positives + false_positives + n_reference)
    best = int(np.flatnonzero(dices == dices.max())[-1])
    return float(dices[best]), float(thresholds[best])


def voxel_kl_divergence(probability: np.ndarray | float, prior: float = UNCERTAINTY_PRIOR) -> np.ndarray:
    """KL(Bernoulli(p) ‖ Bernoulli(prior)) per voxel, in nats (0·ln 0 = 0).

    Equals ``scipy.stats.entropy([p, 1 - p], [prior, 1 - prior])``.
    """
    if not 0.0 < prior < 1.0:
        raise ValueError(f"the Bernoulli prior must lie strictly between 0 and 1, got {prior}")
    p = np.asarray(probability, dtype=np.float64)
    return xlogy(p, p / prior) + xlogy(1.0 - p, (1.0 - p) / (1.0 - prior))


def uncertainty_index(mean_probability: np.ndarray, predicted_mask: np.ndarray,
                      divergence_threshold: float = UNCERTAINTY_DIVERGENCE_THRESHOLD,
                      prior: float = UNCERTAINTY_PRIOR) -> float:
    """Kim et al.'s ensemble uncertainty index of one case.

    #{predicted lesion voxels whose divergence KL(Bernoulli(p̄) ‖ Bernoulli(prior)) < threshold}
    / #{predicted lesion voxels}; empty prediction -> NaN.

    Args:
        mean_probability: p̄, the ensemble's mean foreground probability per voxel.
        predicted_mask: the predicted lesion mask (same shape).
        divergence_threshold: divergence in nats below which a voxel counts as uncertain.
        prior: Bernoulli parameter of the reference distribution (0.5: maximal uncertainty).
    """
    mean_probability = np.asarray(mean_probability)
    predicted_mask = np.asarray(predicted_mask, dtype=bool)
    if mean_probability.shape != predicted_mask.shape:
        raise ValueError(f"mean probability {mean_probability.shape} and predicted mask {predicted_mask.shape} "
                         "differ in shape")
    lesion_probabilities = mean_probability[predicted_mask]
    if lesion_probabilities.size == 0:
        return math.nan
    divergence = voxel_kl_divergence(lesion_probabilities, prior)
    return float(np.count_nonzero(divergence < divergence_threshold)) / lesion_probabilities.size
