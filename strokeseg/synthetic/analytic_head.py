"""An analytic head phantom with known ground truth, for the preprocessing and planner tests and benchmark.

Brain ellipsoid (grey-matter shell, white-matter core, ventricles) inside a CSF gap and a skull ring,
multiplied by a known smooth bias field, with Rician noise; one spherical lesion. Contrasts mimic DWI
(b = 1000: bright grey matter, dark CSF and skull, bright acute lesion), ADC (10⁻⁶ mm²/s), FLAIR and T1w.
Arrays are (z, y, x); spacings (z, y, x) in mm. The template-based phantom cohorts of this package
(``cohort``, ``phantom``) look like real cohorts; this one is for checks that need an exact answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from strokeseg.errors import OutputExistsError
from strokeseg.io import PathLike, write_image_atomic
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_B0, CHANNEL_DWI, CHANNEL_FLAIR, CHANNEL_T1W
from strokeseg.nnunet.raw import dataset_folder_name, image_path, label_path, write_dataset_json

#: Tissue intensities per contrast: background, skull, CSF, grey matter, white matter, lesion.
CONTRASTS: Mapping[str, Mapping[str, float]] = {
    CHANNEL_DWI: {"background": 0.0, "skull": 30.0, "csf": 15.0, "gm": 110.0, "wm": 90.0, "lesion": 250.0},
    CHANNEL_B0: {"background": 0.0, "skull": 40.0, "csf": 220.0, "gm": 120.0, "wm": 100.0, "lesion": 160.0},
    CHANNEL_ADC: {"background": 0.0, "skull": 300.0, "csf": 3000.0, "gm": 850.0, "wm": 750.0, "lesion": 400.0},
    CHANNEL_FLAIR: {"background": 0.0, "skull": 120.0, "csf": 10.0, "gm": 100.0, "wm": 80.0, "lesion": 200.0},
    CHANNEL_T1W: {"background": 0.0, "skull": 130.0, "csf": 20.0, "gm": 80.0, "wm": 110.0, "lesion": 40.0},
}
#: Channels that are magnitude images and therefore carry the receive-coil bias field.
BIASED_CHANNELS = frozenset({CHANNEL_DWI, CHANNEL_B0, CHANNEL_FLAIR, CHANNEL_T1W})
#: Standard deviation of the complex Gaussian noise (magnitude images become Rician).
NOISE_SD = 2.0


@dataclass(frozen=True)
class HeadPhantom:
    """Tissue masks of one phantom head and its log bias field (all arrays (z, y, x))."""

    spacing: tuple[float, float, float]
    brain: np.ndarray
    white_matter: np.ndarray
    grey_matter: np.ndarray
    csf: np.ndarray
    skull: np.ndarray
    lesion: np.ndarray
    log_bias: np.ndarray

    def image(self, contrast: str = CHANNEL_DWI, seed: int = 0, noise_sd: float = NOISE_SD,
              biased: bool | None = None) -> np.ndarray:
        """The phantom in one contrast (float32); the bias field applies to magnitude contrasts by default."""
        values = CONTRASTS[contrast]
        image = np.full(self.brain.shape, values["background"], dtype=np.float64)
        for tissue, mask in (("skull", self.skull), ("csf", self.csf), ("gm", self.grey_matter),
                             ("wm", self.white_matter), ("lesion", self.lesion)):
            image[mask] = values[tissue]
        if contrast in BIASED_CHANNELS if biased is None else biased:
            image *= np.exp(self.log_bias)
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, noise_sd, (2, *image.shape))
        return np.abs(image + noise[0] + 1j * noise[1]).astype(np.float32)


def _inside(coordinates: Sequence[np.ndarray], semi_axes: Sequence[float],
            centre: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    total = np.zeros(coordinates[0].shape)
    for c, a, m in zip(coordinates, semi_axes, centre, strict=True):
        total += ((c - m) / a) ** 2
    return np.asarray(total <= 1.0)


def head_phantom(shape: tuple[int, int, int] = (24, 96, 96), spacing: tuple[float, float, float] = (5.0, 2.0, 2.0),
                 bias_strength: float = 0.35, lesion_radius_mm: float = 8.0) -> HeadPhantom:
    """A head filling the field of view: brain semi-axes 30 % (z) and 38/33 % (y/x) of the extent.

    The log bias field is a smooth linear-plus-quadratic ramp whose amplitude is ``bias_strength`` (0.35 gives
    a multiplicative field of roughly 0.6-1.6 across the head). ``lesion_radius_mm`` 0 omits the lesion.
    """
    extent = [n * s for n, s in zip(shape, spacing, strict=True)]
    axes = [(np.arange(n) + 0.5) * s - e / 2 for n, s, e in zip(shape, spacing, extent, strict=True)]
    coordinates = np.meshgrid(*axes, indexing="ij")
    brain_axes = (0.30 * extent[0], 0.38 * extent[1], 0.33 * extent[2])
    brain = _inside(coordinates, brain_axes)
    core = _inside(coordinates, [0.65 * a for a in brain_axes])
    ventricles = _inside(coordinates, (0.3 * brain_axes[0], 0.15 * brain_axes[1], 0.25 * brain_axes[2]))
    inner_skull = _inside(coordinates, [1.12 * a for a in brain_axes])
    outer_skull = _inside(coordinates, [1.28 * a for a in brain_axes])
    lesion = np.zeros(shape, dtype=bool)
    if lesion_radius_mm > 0:
        centre = (0.0, 0.5 * brain_axes[1], 0.2 * brain_axes[2])
        lesion = _inside(coordinates, (lesion_radius_mm,) * 3, centre) & brain
    z, y, x = (c / (e / 2) for c, e in zip(coordinates, extent, strict=True))
    log_bias = bias_strength * (0.8 * y - 0.5 * x + 0.4 * z + 0.6 * (x**2 - 0.3))
    csf = (inner_skull & ~brain) | ventricles
    return HeadPhantom(spacing, brain, core & ~ventricles & ~lesion, brain & ~core & ~ventricles & ~lesion, csf,
                       outer_skull & ~inner_skull, lesion, log_bias.astype(np.float32))


def coefficient_of_variation(image: np.ndarray, mask: np.ndarray) -> float:
    """SD / mean of the voxels in ``mask``."""
    values = image[mask].astype(np.float64)
    return float(values.std() / values.mean())


def write_phantom_dataset(raw_root: PathLike, dataset_id: int, name: str, channels: Sequence[str] = (CHANNEL_DWI,),
                          num_training: int = 4, num_test: int = 1, shape: tuple[int, int, int] = (12, 48, 48),
                          spacing: tuple[float, float, float] = (5.0, 3.0, 3.0), overwrite: bool = False) -> Path:
    """An nnU-Net raw dataset of phantom heads (lesion = label 1); returns the dataset folder.

    Cases differ in bias strength, lesion size and noise; every case has all ``channels`` on one grid.
    """
    folder = Path(raw_root) / dataset_folder_name(dataset_id, name)
    if folder.exists() and not overwrite:
        raise OutputExistsError(f"{folder} already exists; pass overwrite=True (--overwrite) to replace it")
    for index in range(num_training + num_test):
        split = "Tr" if index < num_training else "Ts"
        case_id = f"phantom_{index:03d}"
        phantom = head_phantom(shape, spacing, bias_strength=0.2 + 0.05 * index, lesion_radius_mm=6.0 + index % 3)
        arrays = [(phantom.image(contrast, seed=index * 10 + c), image_path(folder, case_id, c, split))
                  for c, contrast in enumerate(channels)]
        arrays.append((phantom.lesion.astype(np.uint8), label_path(folder, case_id, split)))
        for array, path in arrays:
            image = sitk.GetImageFromArray(array)
            image.SetSpacing(tuple(float(s) for s in reversed(spacing)))
            write_image_atomic(image, path)
    write_dataset_json(folder, dict(enumerate(channels)), {"background": 0, "lesion": 1}, num_training,
                       description="strokeseg analytic head phantoms (synthetic)")
    return folder
