"""``strokeseg predict``'s parts without a network: input kinds, channel matching, model folders, the ensemble
mask and post-processing, resuming rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cohort_fixtures import write_json

from strokeseg.cli import build_parser, main
from strokeseg.device import cuda_available
from strokeseg.errors import ConfigurationError, InputDataError
from strokeseg.postprocessing.components import PostprocessingParams
from strokeseg.postprocessing.fitting import PARAMS_FORMAT
from strokeseg.predict.inference import MemberPrediction
from strokeseg.predict.inputs import detect_kind, discover_cases, nifti_cases, split_channel
from strokeseg.predict.layout import CaseFiles, finished_report
from strokeseg.predict.model import load_model
from strokeseg.predict.segmentation import Postprocessing, load_postprocessing, segment

ISLES = Path(__file__).parents[1] / "data" / "isles22_sample"


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def fake_model(folder: Path, channels: dict[str, str], folds: tuple[str, ...] = ("0", "1")) -> Path:
    """A trained-model folder's layout (the files are not read as networks here)."""
    write_json(folder / "dataset.json", {"channel_names": channels, "labels": {"background": 0, "lesion": 1}})
    write_json(folder / "plans.json", {})
    for fold in folds:
        touch(folder / f"fold_{fold}" / "checkpoint_final.pth")
    return folder


def test_input_kind_is_detected(tmp_path: Path) -> None:
    assert detect_kind(ISLES) == "bids"
    nifti = touch(tmp_path / "nifti" / "a_0000.nii.gz")
    assert detect_kind(nifti) == "nifti" and detect_kind(nifti.parent) == "nifti"
    touch(tmp_path / "dicom" / "series1" / "IM0001")
    assert detect_kind(tmp_path / "dicom") == "dicom"
    with pytest.raises(InputDataError, match="does not exist"):
        detect_kind(tmp_path / "missing")


def test_channels_are_matched_by_number_or_name() -> None:
    channels = ("DWI", "ADC")
    assert split_channel("case_1_0001", channels) == ("case_1", 1)
    assert split_channel("case_1_adc", channels) == ("case_1", 1)
    assert split_channel("case_1_DWI", channels) == ("case_1", 0)
    assert split_channel("case_1_flair", channels) == ("case_1_flair", None)
    assert split_channel("patient", ("DWI",)) == ("patient", 0)


def test_nifti_cases_name_their_missing_extra_and_doubled_channels(tmp_path: Path) -> None:
    channels = ("DWI", "ADC")
    for name in ("good_DWI.nii.gz", "good_ADC.nii.gz", "noadc_0000.nii.gz", "twice_DWI.nii.gz", "twice_0000.nii.gz",
                 "twice_ADC.nii.gz", "extra_0000.nii.gz", "extra_0001.nii.gz", "extra_0002.nii.gz"):
        touch(tmp_path / name)
    cases = {case.case_id: case for case in nifti_cases(tmp_path, channels)}
    assert cases["good"].problem == "" and cases["good"].source is not None
    assert [channel.path.name for channel in cases["good"].source.channels] == ["good_DWI.nii.gz", "good_ADC.nii.gz"]
    assert "no ADC image (noadc_0001.nii.gz or noadc_ADC.nii.gz)" in cases["noadc"].problem
    assert "2 DWI images" in cases["twice"].problem
    assert "channel number(s) 0002" in cases["extra"].problem
    one = nifti_cases(tmp_path / "good_ADC.nii.gz", channels)  # one file: its case, with its sibling channels
    assert [case.case_id for case in one] == ["good"] and one[0].problem == ""


def test_bids_cases_follow_the_participant_labels(tmp_path: Path) -> None:
    cases = discover_cases(ISLES, "bids", ("DWI", "ADC"), participant_labels=("strokecase0009",))
    assert [(case.case_id, case.folder, case.prefix) for case in cases] == [
        ("sub-strokecase0009_ses-0001", Path("sub-strokecase0009/ses-0001"), "sub-strokecase0009_ses-0001")]
    assert [channel.name for channel in cases[0].source.channels] == ["DWI", "ADC"]  # type: ignore[union-attr]
    assert cases[0].source.metadata["original_id"] == "sub-strokecase0009_ses-0001"  # type: ignore[union-attr]
    flair = discover_cases(ISLES, "bids", ("DWI", "FLAIR"))[0].source
    assert flair is not None and flair.channels[1].register  # FLAIR lies on another grid: registered to the DWI
    with pytest.raises(ConfigurationError, match="no such subject"):
        discover_cases(ISLES, "bids", ("DWI",), participant_labels=("sub-other",))
    with pytest.raises(ConfigurationError, match="selects subjects of a BIDS dataset"):
        discover_cases(tmp_path, "nifti", ("DWI",), participant_labels=("01",))


def test_dicom_input_cannot_give_a_flair(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    case = discover_cases(tmp_path / "export", "dicom", ("DWI", "FLAIR"))[0]
    assert case.source is None and "channel FLAIR" in case.problem


def test_model_folders_members_and_channels(tmp_path: Path) -> None:
    single = fake_model(tmp_path / "one" / "T__P__3d_fullres", {"0": "DWI", "1": "ADC"})
    model = load_model(single)
    assert model.channels == ("DWI", "ADC") and [m.fold for m in model.members] == ["0", "1"] and model.is_ensemble
    assert not load_model(single, folds=["1"]).is_ensemble
    with pytest.raises(InputDataError, match=r"no checkpoint_final.pth for fold\(s\) 4"):
        load_model(single, folds=["4"])
    ensemble = tmp_path / "ensemble"
    fake_model(ensemble / "A__P__3d_fullres", {"0": "DWI"}, ("0",))
    fake_model(ensemble / "B__P__3d_fullres", {"0": "DWI"}, ("all",))
    members = load_model(ensemble).members
    assert [member.name for member in members] == ["A__P__3d_fullres/fold_0", "B__P__3d_fullres/fold_all"]
    fake_model(ensemble / "C__P__3d_fullres", {"0": "FLAIR"}, ("0",))
    with pytest.raises(ConfigurationError, match="expect different channels"):
        load_model(ensemble)
    with pytest.raises(InputDataError, match="is not a trained nnU-Net model folder"):
        load_model(tmp_path)


def test_model_postprocessing_is_checked_as_apply_checks_it(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "T__P__3d_fullres", {"0": "DWI"})
    assert load_model(model).postprocessing_file is None

    def fitted(params: PostprocessingParams, n_cases: int) -> Path:
        write_json(model / "postprocessing.json", {"format": PARAMS_FORMAT, "params": params.as_dict(),
                                                   "validation": {"n_cases": n_cases}})
        return model / "postprocessing.json"

    written = fitted(PostprocessingParams(), 30)
    assert load_model(model).postprocessing_file == written
    assert load_model(model, postprocessing=False).postprocessing_file is None
    assert load_postprocessing(fitted(PostprocessingParams(min_volume_ml=0.1), 30)).params is not None
    with pytest.raises(ConfigurationError, match="fewer than"):
        load_postprocessing(fitted(PostprocessingParams(min_volume_ml=0.1), 3))
    assert load_postprocessing(fitted(PostprocessingParams(), 3), allow_small_fit=True).describe()["applied"]
    with pytest.raises(ConfigurationError, match="brain masks"):
        load_postprocessing(fitted(PostprocessingParams(restrict_to_brain=True), 30))


def test_ensemble_mask_uncertainty_and_postprocessing_on_arrays() -> None:
    probability = np.zeros((4, 10, 10), dtype=np.float32)
    probability[1:3, 2:6, 2:6] = 0.9   # one confident lesion of 32 voxels
    probability[1, 8, 8] = 0.9         # one voxel
    other = probability.copy()
    other[1:3, 2:6, 2:4] = 0.2         # the second member disagrees on half the big lesion
    members = [MemberPrediction(p, (p >= 0.5).astype(np.uint8)) for p in (probability, other)]
    ensemble = segment(members, voxel_ml=0.01, postprocessing=Postprocessing())
    assert np.array_equal(ensemble.mask, (probability + other) / 2 >= 0.5)
    assert ensemble.uncertainty["n_members"] == 2 and 0 < ensemble.uncertainty["uncertainty_index"] <= 1
    single = segment(members[:1], voxel_ml=0.01, postprocessing=Postprocessing())
    assert single.uncertainty == {} and np.array_equal(single.mask, probability >= 0.5)
    trimmed = segment(members[:1], voxel_ml=0.01,
                      postprocessing=Postprocessing(Path("p.json"), PostprocessingParams(min_volume_ml=0.05), 30))
    assert trimmed.voxels_before_postprocessing == 33 and int(trimmed.mask.sum()) == 32


def test_a_report_is_reused_only_when_complete_and_current(tmp_path: Path) -> None:
    files = CaseFiles(tmp_path / "case", "case")
    assert finished_report(files, "k") is None
    mask = touch(files.mask)
    write_json(files.report_json, {"status": "ok", "key": "k", "files": {"mask_file": str(mask)}})
    assert finished_report(files, "k") is None  # no CSV row yet
    touch(files.report_csv)
    assert finished_report(files, "k") is not None
    assert finished_report(files, "other") is None
    mask.unlink()
    assert finished_report(files, "k") is None
    files.report_json.write_text(json.dumps({"status": "input_error", "key": "k", "files": {}}))
    assert finished_report(files, "k") is None  # failed cases are tried again


@pytest.mark.skipif(cuda_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = fake_model(tmp_path / "T__P__3d_fullres", {"0": "DWI"})
    touch(tmp_path / "in" / "a_0000.nii.gz")
    assert main(["predict", str(tmp_path / "in"), str(tmp_path / "out"), "-m", str(model), "--device", "cuda",
                 "--no-location"]) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_predict_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "--help"])
    text = capsys.readouterr().out
    for option in ("--model", "--participant-label", "--device", "--workers", "--mni", "--overwrite", "--input-kind"):
        assert option in text
