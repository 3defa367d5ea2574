"""Label maps as lesion masks, and the majority vote of several readings."""

from __future__ import annotations

import numpy as np
import pytest

from strokeseg.errors import InputDataError
from strokeseg.labels import majority_vote


def test_two_of_three_readings() -> None:
    a = np.array([1, 1, 0, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 0, 0], dtype=bool)
    c = np.array([0, 1, 1, 0, 0], dtype=bool)
    assert majority_vote([a, b, c], 2).tolist() == [True, True, True, False, False]
    assert majority_vote([a, b, c], 3).tolist() == [False] * 5  # intersection
    assert majority_vote([a, b, c], 1).tolist() == [True, True, True, False, True]  # union


@pytest.mark.parametrize(("masks", "k", "message"), [
    ([], 1, "at least one reading"),
    ([np.zeros(3), np.zeros(4)], 1, "share one grid"),
    ([np.zeros(3)] * 3, 4, "1 ≤ k ≤ n"),
    ([np.zeros(3)] * 3, 0, "1 ≤ k ≤ n"),
])
def test_bad_votes_are_refused(masks: list[np.ndarray], k: int, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        majority_vote(masks, k)
