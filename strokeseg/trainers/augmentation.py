"""Training augmentations other than nnU-Net's: a trainer's ``augmentation_recipe`` class attribute.

Noh et al. augment on the fly with four TorchIO transforms: a slice-wise affine transform (in-plane rotation and
scaling), an MRI bias-field artefact (TorchIO's, with the field evaluated separably: ``torchio_bias_field``), an
axis flip and a gamma (contrast) change. :class:`RegistryDWIAugmentation` builds them with TorchIO itself
(``torchio_transform``, usable on its own on a ``torchio.Subject``) and plugs them into nnU-Net's pipeline
(``build``) in place of nnU-Net's spatial and intensity augmentations:

1. the TorchIO transforms on the patch the data loader cut (nnU-Net's enlarged initial patch), the label map
   resampled with nearest neighbours;
2. a centre crop to the plans' patch size (nnU-Net's ``SpatialTransform`` with rotation, scaling and elastic
   deformation switched off);
3. nnU-Net's own bookkeeping after its augmentations, unchanged: mask for normalization, label -1 -> 0,
   regions, deep-supervision targets.

Axes: nnU-Net's arrays are ``(c, z, y, x)`` in the image's axis order, permuted by the plans'
``transpose_forward``; the slice axis is the image's z (axial acquisitions), the flip axis its x (left-right,
TorchIO's first axis of a RAS image). Intensities: the gamma change works on intensities divided by
``intensity_max`` (255, the DWI pipeline's clip value) and multiplied back, so that a γ of 0.74-1.35 changes the
contrast without moving the 0-255 range (TorchIO's ``sign(I)|I|^γ`` on raw 0-255 values would move the
histogram peak of 150 to 40-870).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import torch
import torchio as tio
from batchgeneratorsv2.transforms.base.basic_transform import BasicTransform
from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
from batchgeneratorsv2.transforms.utils.pseudo2d import Convert2DTo3DTransform, Convert3DTo2DTransform
from batchgeneratorsv2.transforms.utils.random import RandomTransform

from strokeseg.defaults import (
    ALIS_ELASTIC_PROBABILITY,
    ALIS_ROTATION_DEGREES,
    ALIS_ROTATION_PROBABILITY,
    HISTOGRAM_CLIP_MAX,
    NOH_AUGMENTATION_BIAS_COEFFICIENTS,
    NOH_AUGMENTATION_BIAS_ORDER,
    NOH_AUGMENTATION_DEGREES,
    NOH_AUGMENTATION_FLIP_PROBABILITY,
    NOH_AUGMENTATION_LOG_GAMMA,
    NOH_AUGMENTATION_PROBABILITY,
    NOH_AUGMENTATION_SCALES,
)
from strokeseg.errors import ConfigurationError
from strokeseg.trainers.torchio_bias_field import SeparableRandomBiasField

#: nnU-Net's augmentations, which an augmentation recipe replaces (everything else of its pipeline is kept).
NNUNET_AUGMENTATIONS: tuple[type[BasicTransform], ...] = (SpatialTransform, RandomTransform, MirrorTransform,
                                                          Convert3DTo2DTransform, Convert2DTo3DTransform)
IMAGE_KEY = "image"
SEGMENTATION_KEY = "segmentation"


class AugmentationRecipe(Protocol):
    """How a trainer augments its training patches (``None`` as a trainer's recipe: nnU-Net's augmentation)."""

    @property
    def name(self) -> str: ...

    def build(self, patch_size: Sequence[int], nnunet_pipeline: ComposeTransforms, slice_axis: int,
              flip_axes: Sequence[int]) -> BasicTransform:
        """The training pipeline: this recipe's augmentation, then ``nnunet_pipeline`` without its augmentations.

        Args:
            patch_size: the plans' patch size (voxels, network axis order).
            nnunet_pipeline: nnU-Net's training pipeline for this configuration.
            slice_axis: spatial axis (0-based, network order) across the slices.
            flip_axes: spatial axes the recipe may flip.
        """
        ...


class TorchioTransform(BasicTransform):
    """A TorchIO transform as a step of nnU-Net's (batchgeneratorsv2) pipeline.

    The patch's image (``c, *spatial``) becomes a ``ScalarImage`` and its segmentation a ``LabelMap`` of one
    ``torchio.Subject``, so that spatial transforms move both alike; 2D patches get a singleton first spatial axis.
    """

    def __init__(self, transform: tio.Transform) -> None:
        super().__init__()
        self.transform = transform

    def apply(self, data_dict: dict[str, Any], **params: Any) -> dict[str, Any]:
        image = data_dict[IMAGE_KEY]
        planar = image.ndim == 3
        images: dict[str, tio.Image] = {IMAGE_KEY: tio.ScalarImage(tensor=_as_3d(image, planar))}
        segmentation = data_dict.get(SEGMENTATION_KEY)
        if segmentation is not None:
            images[SEGMENTATION_KEY] = tio.LabelMap(tensor=_as_3d(segmentation, planar))
        transformed = self.transform(tio.Subject(**images))
        for key, original in ((IMAGE_KEY, image), (SEGMENTATION_KEY, segmentation)):
            if original is not None:
                data = cast(tio.Image, transformed[key]).data
                data_dict[key] = (data[:, 0] if planar else data).to(original.dtype)
        return data_dict


def _as_3d(tensor: torch.Tensor, planar: bool) -> torch.Tensor:
    return tensor[:, None] if planar else tensor


class GammaOnScaledIntensities(tio.Transform):
    """TorchIO's ``RandomGamma`` on intensities divided by ``intensity_max`` (then multiplied back)."""

    def __init__(self, gamma: tio.RandomGamma, intensity_max: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gamma = gamma
        self.intensity_max = intensity_max

    def apply_transform(self, subject: tio.Subject) -> tio.Subject:
        for image in subject.get_images(intensity_only=True):
            image.set_data(image.data / self.intensity_max)
        subject = self.gamma(subject)
        for image in subject.get_images(intensity_only=True):
            image.set_data(image.data * self.intensity_max)
        return subject


AxisRanges = tuple[float, float, float, float, float, float]


def in_plane(value: float, slice_axis: int, identity: float) -> AxisRanges:
    """TorchIO's per-axis ``(low, high)`` ranges: ``identity ± value`` on the two in-plane axes, ``identity`` on
    the slice axis."""
    low, high = [identity - value] * 3, [identity + value] * 3
    low[slice_axis] = high[slice_axis] = identity
    return low[0], high[0], low[1], high[1], low[2], high[2]


@dataclass(frozen=True)
class RegistryDWIAugmentation:
    """Noh et al.'s on-the-fly augmentation with TorchIO: slice-wise affine, bias field, flip, gamma.

    Attributes:
        degrees: in-plane rotation range ±degrees (about the slice axis).
        scales: in-plane scaling range 1 ± scales.
        bias_coefficients: bias-field polynomial coefficients drawn from ±this.
        bias_order: order of the bias-field polynomial.
        flip_probability: probability of flipping each flip axis.
        log_gamma: log(γ) drawn from ±this.
        probability: probability with which each transform is applied.
        intensity_max: intensities are divided by this for the gamma change (the DWI pipeline's clip value).
    """

    degrees: float = NOH_AUGMENTATION_DEGREES
    scales: float = NOH_AUGMENTATION_SCALES
    bias_coefficients: float = NOH_AUGMENTATION_BIAS_COEFFICIENTS
    bias_order: int = NOH_AUGMENTATION_BIAS_ORDER
    flip_probability: float = NOH_AUGMENTATION_FLIP_PROBABILITY
    log_gamma: float = NOH_AUGMENTATION_LOG_GAMMA
    probability: float = NOH_AUGMENTATION_PROBABILITY
    intensity_max: float = HISTOGRAM_CLIP_MAX
    name: str = "registry DWI augmentation (Noh; TorchIO slice-wise affine, bias field, flip, gamma)"

    def torchio_transform(self, slice_axis: int = 0, flip_axes: Sequence[int] = (2,)) -> tio.Compose:
        """The four TorchIO transforms, in the paper's order, for 3D images whose spatial axis ``slice_axis``
        crosses the slices.

        Raises:
            ConfigurationError: ``slice_axis`` or a flip axis is not a spatial axis (0, 1, 2).
        """
        if slice_axis not in (0, 1, 2) or not set(flip_axes) <= {0, 1, 2}:
            raise ConfigurationError(f"slice axis {slice_axis} and flip axes {list(flip_axes)} must be spatial axes "
                                     "0, 1 or 2")
        p = self.probability
        return tio.Compose([
            tio.RandomAffine(scales=in_plane(self.scales, slice_axis, 1.0), degrees=_rotation_about(
                slice_axis, self.degrees), translation=0, isotropic=False, center="image", p=p),
            SeparableRandomBiasField(coefficients=self.bias_coefficients, order=self.bias_order, p=p),
            tio.RandomFlip(axes=tuple(flip_axes), flip_probability=self.flip_probability, p=p),
            GammaOnScaledIntensities(tio.RandomGamma(log_gamma=self.log_gamma), self.intensity_max, p=p),
        ])

    def build(self, patch_size: Sequence[int], nnunet_pipeline: ComposeTransforms, slice_axis: int,
              flip_axes: Sequence[int]) -> BasicTransform:
        """TorchIO transforms, a centre crop to ``patch_size``, then nnU-Net's steps after its augmentations."""
        planar = len(patch_size) == 2
        # a 2D patch gets a singleton first spatial axis: it is the slice axis and flip axes shift by one
        transform = self.torchio_transform(0 if planar else slice_axis,
                                           [axis + 1 for axis in flip_axes] if planar else flip_axes)
        return ComposeTransforms([TorchioTransform(transform), *unaugmented_steps(patch_size, nnunet_pipeline)])


@dataclass(frozen=True)
class NoAugmentation:
    """No training augmentation (papers that state none): a centre crop of the sampled patch to ``patch_size``,
    then nnU-Net's steps after its augmentations."""

    name: str = "none"

    def build(self, patch_size: Sequence[int], nnunet_pipeline: ComposeTransforms, slice_axis: int,
              flip_axes: Sequence[int]) -> BasicTransform:
        """nnU-Net's pipeline without its augmentations (``slice_axis`` and ``flip_axes`` are unused)."""
        return ComposeTransforms(unaugmented_steps(patch_size, nnunet_pipeline))


@dataclass(frozen=True)
class VendorDWIADCAugmentation:
    """Alis et al.'s on-the-fly augmentation with nnU-Net's batchgenerators v2: cropping, rotation, flipping and
    elastic deformation, all in-plane.

    One ``SpatialTransform`` draws a random crop of the in-plane patch size from nnU-Net's enlarged sampled patch,
    rotated by up to ±``rotation_degrees`` (probability ``rotation_probability``) and elastically deformed (probability
    ``elastic_probability``, batchgenerators' default deformation scale and magnitude); a slice stack gets the same
    in-plane transform on every slice (pseudo-2D), then a random crop of the stack to the patch's slice count.
    ``MirrorTransform`` then flips each flip axis with probability 0.5, and nnU-Net's steps after its augmentations
    follow unchanged.

    Attributes:
        rotation_degrees: in-plane rotation range ±degrees (about the slice axis).
        rotation_probability: probability of rotating a sample.
        elastic_probability: probability of deforming a sample elastically.
    """

    rotation_degrees: float = ALIS_ROTATION_DEGREES
    rotation_probability: float = ALIS_ROTATION_PROBABILITY
    elastic_probability: float = ALIS_ELASTIC_PROBABILITY
    name: str = ("inter-vendor DWI+ADC augmentation (Alis; batchgenerators v2 SpatialTransform: random crop, in-plane "
                 "rotation, elastic deformation; MirrorTransform)")

    def in_plane_transform(self, in_plane_patch: Sequence[int]) -> SpatialTransform:
        """The in-plane random crop, rotation and elastic deformation (a 2D ``SpatialTransform``)."""
        angle = float(np.deg2rad(self.rotation_degrees))
        return SpatialTransform(list(in_plane_patch), patch_center_dist_from_border=inside(in_plane_patch),
                                random_crop=True,
                                p_elastic_deform=self.elastic_probability, p_rotation=self.rotation_probability,
                                rotation=(-angle, angle), p_scaling=0, bg_style_seg_sampling=False,
                                mode_seg="bilinear")

    def build(self, patch_size: Sequence[int], nnunet_pipeline: ComposeTransforms, slice_axis: int,
              flip_axes: Sequence[int]) -> BasicTransform:
        """The in-plane augmentation (pseudo-2D for slice stacks), flips, then nnU-Net's unaugmented steps.

        Raises:
            ConfigurationError: a 3D patch whose slice axis is not its first spatial axis (nnU-Net's transposed
                order puts the coarsest axis first).
        """
        if len(patch_size) == 2:
            spatial: list[BasicTransform] = [self.in_plane_transform(patch_size)]
        elif slice_axis == 0:
            spatial = [Convert3DTo2DTransform(), self.in_plane_transform(patch_size[1:]), Convert2DTo3DTransform()]
        else:
            raise ConfigurationError(f"{self.name} needs the slices along the first spatial axis of the patch, found "
                                     f"them along axis {slice_axis}; plan the dataset with the slice axis first")
        kept = unaugmented_steps(patch_size, nnunet_pipeline, random_crop=True)
        return ComposeTransforms([*spatial, MirrorTransform(tuple(flip_axes)), *kept])


def unaugmented_steps(patch_size: Sequence[int], nnunet_pipeline: ComposeTransforms,
                      random_crop: bool = False) -> list[BasicTransform]:
    """A centre (or random) crop to ``patch_size`` (nnU-Net samples a larger patch for its spatial augmentation),
    then the steps of ``nnunet_pipeline`` that are not augmentations (normalisation of the label, deep-supervision
    downsampling, tensor conversion)."""
    crop = SpatialTransform(list(patch_size), patch_center_dist_from_border=inside(patch_size), random_crop=random_crop,
                            p_elastic_deform=0, p_rotation=0, p_scaling=0)
    kept = [step for step in nnunet_pipeline.transforms if not isinstance(step, NNUNET_AUGMENTATIONS)]
    return [crop, *kept]


def inside(patch_size: Sequence[int]) -> list[float]:
    """``patch_center_dist_from_border`` of batchgenerators' ``SpatialTransform`` that keeps a random crop of
    ``patch_size`` inside the sampled patch (half the patch per axis; a sampled patch no larger than the crop is
    centred). With 0, the crop's centre may fall on the border and the crop reads zero padding."""
    return [size / 2 for size in patch_size]


def _rotation_about(axis: int, degrees: float) -> AxisRanges:
    """TorchIO's ``degrees`` ranges for a rotation of ±``degrees`` about ``axis`` only."""
    low, high = [0.0] * 3, [0.0] * 3
    low[axis], high[axis] = -degrees, degrees
    return low[0], high[0], low[1], high[1], low[2], high[2]


def spatial_axis_of(image_axis: int, transpose_forward: Sequence[int]) -> int:
    """The network's spatial axis holding the image's ``(z, y, x)`` axis ``image_axis`` (plans' permutation)."""
    return int(np.argwhere(np.asarray(transpose_forward) == image_axis)[0, 0])


#: Noh et al.'s augmentation with TorchIO's default magnitudes (the paper states none).
REGISTRY_DWI_AUGMENTATION = RegistryDWIAugmentation()
#: Alis et al.'s augmentation with nnU-Net's 2D magnitudes (the paper states none).
VENDOR_DWI_ADC_AUGMENTATION = VendorDWIADCAugmentation()
#: No augmentation at all (a trainer's ``augmentation_recipe``; None would mean nnU-Net's augmentation).
NO_AUGMENTATION = NoAugmentation()
