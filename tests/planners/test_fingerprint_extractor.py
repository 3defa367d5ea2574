"""``StrokesegFingerprintExtractor`` through the stock CLI: found by ``-fpe``, and its intensity statistics from
10^6 samples agree with those of every foreground voxel."""

from __future__ import annotations

import json

import numpy as np
import SimpleITK as sitk

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.toy import write_toy_dataset

DATASET_ID = 871


def test_fingerprint_statistics_match_all_foreground_voxels(nnunet_paths: NnunetPaths) -> None:
    raw = write_toy_dataset(nnunet_paths.raw, DATASET_ID, "Fingerprint", num_training=4, num_test=0)
    log = nnunet_paths.raw.parent / "nnunet.log"
    run_nnunet("nnUNetv2_extract_fingerprint", ["-d", str(DATASET_ID), "-np", "1", "-fpe",
                                                StrokesegFingerprintExtractor.__name__], nnunet_paths, log)
    fingerprint = json.loads((nnunet_paths.preprocessed / raw.name / "dataset_fingerprint.json").read_text())

    images = [sitk.GetArrayFromImage(sitk.ReadImage(str(path))) for path in sorted((raw / "imagesTr").iterdir())]
    labels = [sitk.GetArrayFromImage(sitk.ReadImage(str(path))) for path in sorted((raw / "labelsTr").iterdir())]
    foreground = np.concatenate([image[label > 0] for image, label in zip(images, labels, strict=True)])
    statistics = fingerprint["foreground_intensity_properties_per_channel"]["0"]
    low, median, high = np.percentile(foreground, (0.5, 50.0, 99.5))
    tolerance = 0.01 * (high - low)  # one per cent of the intensity window CT normalization would clip to
    for key, exact in (("percentile_00_5", low), ("median", median), ("percentile_99_5", high),
                       ("mean", foreground.mean()), ("std", foreground.std())):
        assert abs(statistics[key] - exact) < tolerance, (key, statistics[key], exact)
    assert fingerprint["spacings"] == [[float(v) for v in reversed(sitk.ReadImage(
        str(path)).GetSpacing())] for path in sorted((raw / "imagesTr").iterdir())]
