"""``strokeseg preprocess``: one case through a plans' preprocessing, written out for review."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from strokeseg_test_plans import dwi_adc_plans_dict

from strokeseg.cli import main
from strokeseg.preprocessing.intensity import PeakHistogram
from strokeseg.preprocessing.settings import CasePreparation
from strokeseg.synthetic.analytic_head import head_phantom

SHAPE, SPACING = (12, 56, 48), (5.0, 2.5, 2.5)


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    phantom = head_phantom(SHAPE, SPACING, bias_strength=0.3)
    paths = []
    for channel, contrast in enumerate(("DWI", "ADC")):
        image = sitk.GetImageFromArray(phantom.image(contrast))
        image.SetSpacing(tuple(reversed(SPACING)))
        image.SetOrigin((-10.0, 4.0, 2.5))
        paths.append(str(tmp_path / f"case_{channel:04d}.nii.gz"))
        sitk.WriteImage(image, paths[-1])
    return paths


def read(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def test_review_files_show_what_the_network_sees(images: list[str], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "review"
    assert main(["preprocess", "--channels", "DWI", "ADC", "-i", *images, "-o", str(out)]) == 0
    mask = read(out / "brain_mask.nii.gz").astype(bool)
    dwi = read(out / "normalized_0000.nii.gz")
    assert dwi.max() <= 255.0 and PeakHistogram().peak(dwi[mask]) == pytest.approx(150.0, abs=6.0)
    assert np.all(read(out / "prepared_0001.nii.gz")[~mask] == 0.0)
    assert sitk.ReadImage(str(out / "normalized_0001.nii.gz")).GetOrigin() == (-10.0, 4.0, 2.5)
    report = json.loads((out / "report.json").read_text())
    assert report["normalization_schemes"] == ["HistogramPeakNormalization", "ADCRangeNormalization"]
    assert report["n4_channels"] == [0] and report["brain_volume_ml"] > 10
    assert "brain mask" in capsys.readouterr().out


def test_plans_settings_are_used_and_flags_override_them(images: list[str], tmp_path: Path) -> None:
    plans_dir = tmp_path / "Dataset999_Unit"
    plans_dir.mkdir()
    plans = dwi_adc_plans_dict(CasePreparation.for_channels(["DWI", "ADC"], bias_correction=False), SHAPE, SPACING)
    (plans_dir / "strokesegDWIPlans.json").write_text(json.dumps(plans))
    (plans_dir / "dataset.json").write_text(json.dumps({"channel_names": {"0": "DWI", "1": "ADC"}}))
    out = tmp_path / "review"
    assert main(["preprocess", "--plans", str(plans_dir / "strokesegDWIPlans.json"), "-i", *images, "-o",
                 str(out), "--no-skull-strip", "--sigma-mm", "3"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n4_channels"] == [], "the plans switch N4 off"
    assert report["settings"]["skull_strip_sigma_mm"] == 3.0 and not report["settings"]["foreground_mask"]


def test_existing_review_is_not_overwritten(images: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "review"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    assert main(["preprocess", "--channels", "DWI", "ADC", "-i", *images, "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "user data"


def test_channel_count_must_match(images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preprocess", "--channels", "DWI", "-i", *images, "-o", str(tmp_path / "r")]) == 2
    assert "2 image(s) given for 1 channel(s)" in capsys.readouterr().err
