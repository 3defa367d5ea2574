"""A minimal blob dataset in nnU-Net raw format, for smoke tests of the nnU-Net integration.

Each case is a small 3D volume: an ellipsoidal "brain" of moderate intensity with Gaussian noise and one or
two bright spherical "lesions" (label 1). It is not a realistic phantom (see the phantom-cohort generator
for that); it only has to be learnable in a few CPU iterations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from strokeseg.errors import OutputExistsError
from strokeseg.io import PathLike, write_image_atomic
from strokeseg.nnunet.raw import dataset_folder_name, image_path, label_path, write_dataset_json

#: Default grid of a toy case, (z, y, x) voxels, and its spacing (z, y, x) in mm.
TOY_SHAPE: tuple[int, int, int] = (16, 40, 40)
TOY_SPACING_ZYX: tuple[float, float, float] = (3.0, 1.5, 1.5)


def toy_case(rng: np.random.Generator, shape: tuple[int, int, int] = TOY_SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """One toy case: a float32 image and a uint8 lesion mask, both (z, y, x)."""
    zz, yy, xx = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    brain = (zz / 0.9) ** 2 + (yy / 0.8) ** 2 + (xx / 0.7) ** 2 <= 1.0
    image = np.where(brain, 100.0, 0.0)
    mask = np.zeros(shape, dtype=np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        centre = rng.uniform(-0.4, 0.4, size=3)
        radius = rng.uniform(0.15, 0.3)
        lesion = ((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2) <= radius**2
        mask[lesion & brain] = 1
    image = image + 80.0 * mask + rng.normal(0.0, 8.0, size=shape)
    return image.astype(np.float32), mask


def write_toy_dataset(raw_root: PathLike, dataset_id: int, name: str = "Toy", num_training: int = 8,
                      num_test: int = 2, seed: int = 0, shape: tuple[int, int, int] = TOY_SHAPE,
                      overwrite: bool = False,
                      spacing_zyx: tuple[float, float, float] = TOY_SPACING_ZYX) -> Path:
    """Write a toy nnU-Net raw dataset with one ``DWI`` channel; returns the dataset folder.

    Test cases go to ``imagesTs``/``labelsTs``. Deterministic for a given ``seed``. ``spacing_zyx`` in mm.
    """
    folder = Path(raw_root) / dataset_folder_name(dataset_id, name)
    if folder.exists() and not overwrite:
        raise OutputExistsError(f"{folder} already exists; pass overwrite=True (--overwrite) to replace it")
    rng = np.random.default_rng(seed)
    for index in range(num_training + num_test):
        split = "Tr" if index < num_training else "Ts"
        image, mask = toy_case(rng, shape)
        case_id = f"toy_{index:03d}"
        for array, path in ((image, image_path(folder, case_id, 0, split)), (mask, label_path(folder, case_id, split))):
            itk = sitk.GetImageFromArray(array)
            itk.SetSpacing(tuple(float(v) for v in reversed(spacing_zyx)))
            write_image_atomic(itk, path)
    write_dataset_json(folder, {0: "DWI"}, {"background": 0, "lesion": 1}, num_training,
                       description="strokeseg toy blob dataset (synthetic)")
    return folder
