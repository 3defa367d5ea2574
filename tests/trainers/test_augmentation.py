"""Noh et al.'s TorchIO augmentation and Alis et al.'s batchgenerators augmentation, on their own and as steps of
nU-Net's pipeline (no planning run)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torchio as tio
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from strokeseg.errors import ConfigurationError
from strokeseg.trainers.augmentation import (
    NNUNET_AUGMENTATIONS,
    NO_AUGMENTATION,
    REGISTRY_DWI_AUGMENTATION,
    VENDOR_DWI_ADC_AUGMENTATION,
    RegistryDWIAugmentation,
    TorchioTransform,
    VendorDWIADCAugmentation,
    in_plane,
    spatial_axis_of,
)


def test_ranges_leave_the_slice_axis_alone() -> None:
    assert in_plane(0.1, 0, 1.0) == pytest.approx((1.0, 1.0, 0.9, 1.1, 0.9, 1.1))
    assert in_plane(0.1, 2, 1.0) == pytest.approx((0.9, 1.1, 0.9, 1.1, 1.0, 1.0))
    affine = REGISTRY_DWI_AUGMENTATION.torchio_transform(slice_axis=1).transforms[0]
    assert affine.degrees == (0.0, 0.0, -10.0, 10.0, 0.0, 0.0)
    assert spatial_axis_of(0, (2, 0, 1)) == 1
    with pytest.raises(ConfigurationError, match="spatial axes"):
        REGISTRY_DWI_AUGMENTATION.torchio_transform(slice_axis=3)


def test_usable_on_a_torchio_subject() -> None:
    torch.manual_seed(0)
    image = torch.full((1, 8, 32, 32), 150.0)
    subject = tio.Subject(dwi=tio.ScalarImage(tensor=image), lesion=tio.LabelMap(tensor=torch.ones((1, 8, 32, 32))))
    out = REGISTRY_DWI_AUGMENTATION.torchio_transform()(subject)
    assert out["dwi"].data.shape == image.shape and not torch.equal(out["dwi"].data, image)  # bias field, gamma
    assert set(torch.unique(out["lesion"].data).tolist()) <= {0.0, 1.0}


def test_gamma_keeps_the_intensity_range_by_working_on_scaled_values() -> None:
    gamma_only = RegistryDWIAugmentation(degrees=0, scales=0, bias_coefficients=0, flip_probability=0, log_gamma=0.3)
    image = torch.linspace(0, 255, 8 * 16 * 16).reshape(1, 8, 16, 16)
    out = gamma_only.torchio_transform()(tio.Subject(dwi=tio.ScalarImage(tensor=image)))["dwi"].data
    assert float(out.min()) >= 0.0 and float(out.max()) <= 255.0 + 1e-3


@pytest.mark.parametrize(("patch", "flip_axes"), [((8, 24, 24), (2,)), ((24, 24), (1,))])
def test_pipeline_step_crops_to_the_patch_and_pickles(patch: tuple[int, ...], flip_axes: tuple[int, ...]) -> None:
    nnunet = nnUNetTrainer.get_training_transforms(patch, (0, 0), None, (), False, use_mask_for_norm=[False])
    pipeline = REGISTRY_DWI_AUGMENTATION.build(patch, nnunet, 0, flip_axes)
    assert isinstance(pipeline.transforms[0], TorchioTransform)
    pipeline = pickle.loads(pickle.dumps(pipeline))  # nnU-Net's augmentation workers receive it pickled
    larger = tuple(size + 8 for size in patch)
    out = pipeline(image=torch.rand((1, *larger)) * 255, segmentation=torch.zeros((1, *larger), dtype=torch.int16))
    assert tuple(out["image"].shape[1:]) == patch and out["segmentation"].dtype == torch.int16


def test_no_augmentation_only_crops_and_keeps_nnunets_other_steps() -> None:
    patch = (8, 24, 24)
    nnunet = nnUNetTrainer.get_training_transforms(patch, (-0.5, 0.5), None, (0, 1, 2), False,
                                                   use_mask_for_norm=[False])
    pipeline = pickle.loads(pickle.dumps(NO_AUGMENTATION.build(patch, nnunet, 0, (2,))))
    assert not any(isinstance(step, NNUNET_AUGMENTATIONS) for step in pipeline.transforms[1:])
    larger = tuple(size + 8 for size in patch)
    image = torch.rand((1, *larger))
    out = pipeline(image=image.clone(), segmentation=torch.zeros((1, *larger), dtype=torch.int16))
    # the centre of the sampled patch, untouched
    assert torch.equal(out["image"], image[:, 4:-4, 4:-4, 4:-4])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("patch", [(4, 24, 24), (24, 24)])
def test_vendor_augmentation_crops_randomly_and_transforms_every_slice_alike(patch: tuple[int, ...], seed: int) -> None:
    """batchgenerators draws its crops and deformations from numpy's global generator: several seeds, so that a crop
    reaching past the sampled patch (zero slices in the stack) is caught whatever ran before."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    always = VendorDWIADCAugmentation(rotation_probability=1.0, elastic_probability=1.0)
    nnunet = nnUNetTrainer.get_training_transforms(patch, (0, 0), None, (), False, use_mask_for_norm=[False])
    pipeline = pickle.loads(pickle.dumps(always.build(patch, nnunet, 0, (len(patch) - 1,))))
    steps = [type(step).__name__ for step in pipeline.transforms]
    assert steps.count("MirrorTransform") == 1 and steps.count("SpatialTransform") == 2  # nnU-Net's are gone
    larger = tuple(size + (8 if axis or len(patch) == 2 else 2) for axis, size in enumerate(patch))
    plane = torch.rand(larger[-2:])
    image = plane.expand((1, *larger)).clone()  # every slice identical
    out = pipeline(image=image, segmentation=(image > 0.5).to(torch.int16))
    assert tuple(out["image"].shape[1:]) == patch and out["segmentation"].dtype == torch.int16
    slices = out["image"][0].reshape(-1, *patch[-2:])
    assert all(torch.allclose(slices[0], other) for other in slices[1:]), "one in-plane transform for the stack"
    assert not torch.allclose(slices[0], plane[4:-4, 4:-4]), "rotated and deformed, not just cropped"


def test_vendor_augmentation_needs_the_slices_along_the_first_axis() -> None:
    nnunet = nnUNetTrainer.get_training_transforms((24, 4, 24), (0, 0), None, (), False, use_mask_for_norm=[False])
    with pytest.raises(ConfigurationError, match="first spatial axis"):
        VENDOR_DWI_ADC_AUGMENTATION.build((24, 4, 24), nnunet, 1, (2,))
