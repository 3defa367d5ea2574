"""Label maps as lesion masks, and the majority vote of several readings."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.errors import InputDataError
from strokeseg.labels import default_votes, lesion_mask, majority_vote, vote_label_maps


def test_two_of_three_readings() -> None:
    a = np.array([1, 1, 0, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 0, 0], dtype=bool)
    c = np.array([0, 1, 1, 0, 0], dtype=bool)
    assert majority_vote([a, b, c], 2).tolist() == [True, True, True, False, False]
    assert majority_vote([a, b, c], 3).tolist() == [False] * 5  # intersection
    assert majority_vote([a, b, c], 1).tolist() == [True, True, True, False, True]  # union


def test_default_votes_are_a_strict_majority() -> None:
    assert [default_votes(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_label_maps_are_voted_per_label_with_the_ignore_label() -> None:
    a = np.array([[[1, 1, 2, 2, 0, 1]]], dtype=np.uint8)
    b = np.array([[[1, 0, 2, 0, 2, 2]]], dtype=np.uint8)
    c = np.array([[[0, 1, 1, 0, 2, 2]]], dtype=np.uint8)
    # lesion first (>= 2 lesion votes), then the ignore label (>= 2 ignore votes), else background
    assert vote_label_maps([a, b, c], 2, ignore_label=2).ravel().tolist() == [1, 1, 2, 0, 2, 2]
    # without an ignore label every value > 0 is lesion
    assert vote_label_maps([a, b, c], 2).ravel().tolist() == [1, 1, 1, 0, 1, 1]
    assert vote_label_maps([a, b, c], 3, ignore_label=2).ravel().tolist() == [0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(("masks", "k", "message"), [
    ([], 1, "at least one reading"),
    ([np.zeros(3), np.zeros(4)], 1, "share one grid"),
    ([np.zeros(3)] * 3, 4, "1 ≤ k ≤ n"),
    ([np.zeros(3)] * 3, 0, "1 ≤ k ≤ n"),
])
def test_bad_votes_are_refused(masks: list[np.ndarray], k: int, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        majority_vote(masks, k)


@pytest.mark.parametrize(("label_map", "message"), [
    (np.array([[[0, -1], [1, 0]]], dtype=np.int16), "negative values"),
    (np.array([[[0.0, -1.0], [1.0, 0.0]]]), "negative values"),
    (np.array([[[0.0, 0.4], [1.0, 0.0]]], dtype=np.float32), "non-integer"),
    (np.zeros((2, 2, 2, 2), dtype=np.uint8), "4 dimensions"),
])
def test_label_maps_that_are_no_label_maps_are_refused(label_map: np.ndarray, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        lesion_mask(label_map)


def test_lesion_is_every_positive_value_but_the_ignore_label() -> None:
    label_map = np.array([[[0, 1], [2, 3]]], dtype=np.uint8)
    assert lesion_mask(label_map, ignore_label=2).tolist() == [[[False, True], [False, True]]]
    assert lesion_mask(label_map, labels=[3]).tolist() == [[[False, False], [False, True]]]
