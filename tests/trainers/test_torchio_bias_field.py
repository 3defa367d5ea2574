"""The separable bias field equals TorchIO's, draw for draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchio as tio
from torchio.transforms.augmentation.intensity.random_bias_field import BiasField

from strokeseg.trainers.torchio_bias_field import SeparableRandomBiasField, separable_bias_field


@pytest.mark.parametrize("shape", [(7, 12, 9), (1, 16, 15), (40, 131, 110)])
@pytest.mark.parametrize("order", [0, 1, 3])
def test_field_matches_torchio(shape: tuple[int, int, int], order: int) -> None:
    rng = np.random.default_rng(order)
    terms = (order + 1) * (order + 2) * (order + 3) // 6
    coefficients = list(rng.uniform(-0.5, 0.5, terms))
    expected = BiasField.generate_bias_field(np.zeros((2, *shape)), order, coefficients)
    field = separable_bias_field(shape, order, coefficients)
    assert field.dtype == np.float32 and field.shape == expected.shape
    np.testing.assert_allclose(field, expected, rtol=2e-7, atol=0)


def test_wrong_number_of_coefficients_is_refused() -> None:
    with pytest.raises(ValueError, match="10 coefficients, got 9"):
        separable_bias_field((4, 4, 4), 2, [0.1] * 9)


def test_random_transform_equals_torchio_with_the_same_seed() -> None:
    image = torch.rand(2, 9, 20, 17) * 255
    subject = tio.Subject(image=tio.ScalarImage(tensor=image), label=tio.LabelMap(tensor=(image[:1] > 128).int()))
    torch.manual_seed(3)
    ours = SeparableRandomBiasField(coefficients=0.5, order=3)(subject)
    torch.manual_seed(3)
    theirs = tio.RandomBiasField(coefficients=0.5, order=3)(subject)
    assert not torch.equal(ours["image"].data, image)
    torch.testing.assert_close(ours["image"].data, theirs["image"].data, rtol=1e-6, atol=1e-4)
    assert torch.equal(ours["label"].data, subject["label"].data)  # label maps are not intensity images
