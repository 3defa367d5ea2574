"""Planning for the crop that strokeseg's foreground mask adds to nnU-Net's nonzero crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

from strokeseg.errors import InputDataError
from strokeseg.masks import bounding_box
from strokeseg.planners.foreground import evenly_spaced, foreground_crop_ratios
from strokeseg.preprocessing.settings import CasePreparation
from strokeseg.synthetic.analytic_head import head_phantom


def write(array: np.ndarray, path: Path, spacing: tuple[float, float, float]) -> str:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(reversed(spacing)))
    sitk.WriteImage(image, str(path))
    return str(path)


def test_crop_ratio_is_the_brain_box_over_the_whole_noisy_image(tmp_path: Path) -> None:
    shape, spacing = (20, 80, 64), (5.0, 2.0, 2.0)
    phantom = head_phantom(shape, spacing)
    cases = [[write(phantom.image("DWI", seed=seed), tmp_path / f"c{seed}_0000.nii.gz", spacing)] for seed in range(2)]
    ratios = foreground_crop_ratios(cases, SimpleITKIO(), CasePreparation.for_channels(["DWI"]))
    brain_box = [s.stop - s.start for s in bounding_box(phantom.brain)]
    assert ratios == pytest.approx(np.asarray(brain_box) / np.asarray(shape), abs=0.06), "noise: nnU-Net keeps all"


def test_a_case_without_brain_is_named(tmp_path: Path) -> None:
    image = np.zeros((10, 40, 40), dtype=np.float32)
    image[5, 20, 20] = 1.0
    path = write(image, tmp_path / "empty_0000.nii.gz", (5.0, 2.0, 2.0))
    with pytest.raises(InputDataError, match=r"empty_0000\.nii\.gz: skull stripping found no brain"):
        foreground_crop_ratios([[path]], SimpleITKIO(), CasePreparation.for_channels(["DWI"]))


def test_sample_is_spread_over_the_cases() -> None:
    names = [f"case{i:02d}" for i in range(10)]
    sample = evenly_spaced(names, 3)
    assert len(set(sample)) == 3 and sample[0] == "case00" and sample[-1] == "case09"
    assert evenly_spaced(names[:2], 5) == names[:2]
