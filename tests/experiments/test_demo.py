"""``strokeseg demo``: folder safety, its job graph and resumption (fast), profiles, and the smoke profile end to
end (slow).

The smoke run goes through every stage with the stock nnU-Net tools (plan, train, predict, move plans,
fine-tune) on a 12-case phantom registry. It also carries the pipeline-level checks of the DWI planner: the
plans name strokeseg's preprocessor and normalizations, and a training case preprocessed by planning equals the
same case preprocessed on the prediction path of the trained model.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from nnunetv2.inference.data_iterators import preprocessing_iterator_fromfiles
from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetBlosc2

import strokeseg.trainers as trainers
from strokeseg.cli import main
from strokeseg.errors import ConfigurationError, OutputExistsError
from strokeseg.experiments.config import NnunetSettings
from strokeseg.experiments.executors import JobFailedError
from strokeseg.experiments.graph import JobGraph
from strokeseg.experiments.recipes.demo.findings import FINDINGS_FILE
from strokeseg.experiments.recipes.demo.layout import (
    CONTROL,
    FINETUNED,
    FINETUNED_PP,
    SOURCE,
    SOURCE_PP,
    TEST_SETS,
    DemoStudy,
)
from strokeseg.experiments.recipes.demo.profiles import PROFILES, DemoProfile, get_profile
from strokeseg.experiments.recipes.demo.recipe import (
    DemoRunSettings,
    build_demo_graph,
    prepare_folder,
    run_jobs,
    run_settings,
)
from strokeseg.experiments.recipes.demo.summary import DEMO_MARKER, erased_by_postprocessing
from strokeseg.experiments.state import FAILED, read_record
from strokeseg.experiments.steps import AggregateStep, RunContext, TrainStep
from strokeseg.io import read_array, read_header_geometry
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.zoom_configurations import ZOOM_IN_CONFIGURATION, ZOOM_OUT_CONFIGURATION, zoom_schedule_from_plans
from strokeseg.preprocessing.settings import PLANS_KEY
from strokeseg.trainers.base import CHECKPOINT_KEY

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = (SOURCE, FINETUNED, CONTROL, SOURCE_PP, FINETUNED_PP)
#: The findings every demo run reports (the learning curve only with a profile that has one).
FINDINGS = ("vendor_gap", "adaptation_vs_control", "adaptation_closes_gap", "small_infarcts_lowest",
            "postprocessing_internal_test", "postprocessing_external_test")


# --------------------------------------------------------------------------------------------------
# folder safety, the job graph and job resumption (real files, no nnU-Net)
# --------------------------------------------------------------------------------------------------
def test_prepare_folder_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "patient_data.csv").write_text("precious")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="not written by `strokeseg demo`"):
            prepare_folder(tmp_path, {"profile": "a"}, overwrite)
    assert (tmp_path / "patient_data.csv").read_text() == "precious"


def test_prepare_folder_resumes_same_settings_and_refuses_others(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    prepare_folder(out, {"profile": {"name": "smoke"}}, False)
    (out / "kept.txt").write_text("x")
    prepare_folder(out, {"profile": {"name": "smoke"}}, False)  # resume: nothing deleted
    assert (out / "kept.txt").is_file()
    prepare_folder(out, {"profile": {"name": "smoke"}}, True)  # --overwrite with the same settings resumes too
    assert (out / "kept.txt").is_file()
    with pytest.raises(OutputExistsError, match=r"other settings.*--overwrite"):
        prepare_folder(out, {"profile": {"name": "cpu-small"}}, False)
    prepare_folder(out, {"profile": {"name": "cpu-small"}}, True)
    assert not (out / "kept.txt").exists()
    assert json.loads((out / DEMO_MARKER).read_text())["settings"] == {"profile": {"name": "cpu-small"}}


@dataclass(frozen=True)
class WriteStep:
    """Appends its name to ``calls`` and writes ``target`` (or raises when ``fail`` is set)."""

    name: str
    target: Path
    calls: Path
    fail: bool = False

    def run(self, context: RunContext) -> None:
        with self.calls.open("a") as calls:
            calls.write(self.name + "\n")
        if self.fail:
            raise ConfigurationError(f"{self.name} failed")
        self.target.write_text(self.name)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.target,)


def _writing_graph(tmp_path: Path, *names: str, failing: str = "") -> JobGraph:
    graph = JobGraph(tmp_path / "out")
    for name in names:
        graph.add(name, WriteStep(name, tmp_path / f"{name}.txt", tmp_path / "calls.txt", name == failing),
                  title=f"write {name}.txt")
    return graph


def _calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "calls.txt"
    text = calls.read_text().split() if calls.is_file() else []
    calls.unlink(missing_ok=True)
    return text


def test_run_jobs_skips_done_jobs_and_reruns_after_failure_or_lost_output(tmp_path: Path) -> None:
    settings = DemoRunSettings(NnunetSettings(NnunetPaths.under(tmp_path), "cpu", 1))
    graph = _writing_graph(tmp_path, "one", "two")
    printed = io.StringIO()
    report = run_jobs(graph, settings, printed)
    assert _calls(tmp_path) == ["one", "two"] and report.started == ["one", "two"]
    assert "[2/2] write two.txt: done in" in printed.getvalue()
    (tmp_path / "two.txt").unlink()  # an output lost after its job finished: the job runs again
    printed = io.StringIO()
    report = run_jobs(graph, settings, printed)
    assert _calls(tmp_path) == ["two"] and (report.skipped, report.started) == (["one"], ["two"])
    assert "[1/2] write one.txt: done in an earlier run" in printed.getvalue()
    failing = _writing_graph(tmp_path, "one", "three", failing="three")
    with pytest.raises(JobFailedError, match="demo job three failed: ConfigurationError: three failed"):
        run_jobs(failing, settings, io.StringIO())
    record = read_record(failing.job_folder("three"))
    assert _calls(tmp_path) == ["three"] and record is not None and record.state == FAILED


def test_run_jobs_replaces_jobs_of_another_configuration_only_with_overwrite(tmp_path: Path) -> None:
    settings = DemoRunSettings(NnunetSettings(NnunetPaths.under(tmp_path), "cpu", 1))
    run_jobs(_writing_graph(tmp_path, "one", "two"), settings, io.StringIO())
    changed = JobGraph(tmp_path / "out")  # same job ids; "two" now writes another file: it is stale
    changed.add("one", WriteStep("one", tmp_path / "one.txt", tmp_path / "calls.txt"), title="write one.txt")
    changed.add("two", WriteStep("two", tmp_path / "other.txt", tmp_path / "calls.txt"), title="write other.txt")
    _calls(tmp_path)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        run_jobs(changed, settings, io.StringIO())
    report = run_jobs(changed, settings, io.StringIO(), overwrite=True)
    assert _calls(tmp_path) == ["two"] and (report.skipped, report.started) == (["one"], ["two"])


def test_demo_graph_has_the_studys_jobs_in_order_whatever_the_device_or_workers(tmp_path: Path) -> None:
    profile = get_profile("smoke")
    graph = build_demo_graph(DemoStudy(tmp_path / "demo", profile))
    assert list(graph.jobs) == ["generate", "convert-internal", "convert-external", "split", "plan", "train",
                                "predict-source", "postprocess-fit", "move-plans", "finetune", "predict-finetuned",
                                "control", "predict-control", "postprocess-apply", "evaluate-internal",
                                "evaluate-external", "compare", "summary"]
    ids = list(graph.jobs)
    for job in graph:  # every job but the first needs earlier jobs
        assert bool(job.needs) == (job.id != "generate")
        assert all(ids.index(need) < ids.index(job.id) for need in job.needs)
    assert [job.id for job in graph if job.gpu] == ["train", "predict-source", "finetune", "predict-finetuned",
                                                    "control", "predict-control"]
    # the control arm: the fine-tuning trainer from the source model, on the source's own dataset and fold
    control, finetune = graph.jobs["control"].step, graph.jobs["finetune"].step
    assert isinstance(control, TrainStep) and isinstance(finetune, TrainStep)
    assert control.model.trainer == finetune.model.trainer == profile.finetune_trainer
    assert control.model.dataset == control.pretrained.dataset == "980" and control.fold == profile.source_fold
    assert control.model.results != finetune.model.results != control.pretrained.results
    # nnU-Net's own pools get the demo's workers, not nnU-Net's default of 8 processes
    settings = run_settings(DemoStudy(tmp_path / "demo", profile), "cpu", 2)
    assert settings.nnunet.tool_env()["nnUNet_def_n_proc"] == "2"
    # the device and -j live in the run settings, not in the steps: a rerun with others finds its jobs done
    assert build_demo_graph(DemoStudy(tmp_path / "demo", profile)).jobs == graph.jobs
    compare = graph.jobs["compare"].step
    assert isinstance(compare, AggregateStep)
    assert compare.spec["grid"][0]["pretraining_cases"] == profile.internal_training_cases == 6


def test_summary_names_cases_whose_prediction_postprocessing_erased(tmp_path: Path) -> None:
    rows = [("a", SOURCE, 0.8, 1.0), ("a", SOURCE_PP, 0.0, 0.0),   # erased: a partly correct prediction is gone
            ("b", SOURCE, 0.7, 2.0), ("b", SOURCE_PP, 0.75, 1.9),  # kept
            ("c", SOURCE, 0.0, 0.0), ("c", SOURCE_PP, 0.0, 0.0)]   # nothing to erase
    report = tmp_path / "evaluation" / "internal_test"
    report.mkdir(parents=True)
    pd.DataFrame([{"case_id": c, "model": m, "dice": d, "vol_pred_ml": v, "vol_ref_ml": 0.2} for c, m, d, v in rows]
                 ).to_csv(report / "per_case.csv", index=False)
    lines = erased_by_postprocessing(tmp_path)
    assert len(lines) == 1 and "1 test case(s): a (internal_test, 0.20 mL)" in lines[0]
    pd.DataFrame([{"case_id": "b", "model": m, "dice": 0.7, "vol_pred_ml": 1.0, "vol_ref_ml": 1.0}
                  for m in (SOURCE, SOURCE_PP)]).to_csv(report / "per_case.csv", index=False)
    assert erased_by_postprocessing(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------------------------------
def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown demo profile 'huge'; choose one of smoke"):
        get_profile("huge")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_trainers_exist_and_fine_tuning_builds_the_source_network(name: str) -> None:
    """The fine-tuning trainer must build exactly the source trainer's network, or the weights cannot load."""
    profile = PROFILES[name]
    source, tuning = (getattr(trainers, trainer) for trainer in (profile.trainer, profile.finetune_trainer))
    assert {profile.trainer, profile.finetune_trainer} <= set(trainers.__all__)
    for attribute in ("network_recipe", "width_scale", "max_features"):
        assert getattr(source, attribute) == getattr(tuning, attribute), attribute
    assert profile.adaptation_cases >= 2 and profile.external_test_cases >= 2


def test_profiles_internal_training_cases_are_the_internal_cases_without_test_cases() -> None:
    assert PROFILES["smoke"].internal_training_cases == 6  # 8 internal cases, every 3rd a test case
    assert PROFILES["cpu-small"].internal_training_cases == 27  # 36 internal cases, every 4th a test case


def test_the_phantom_voxel_size_is_recorded_only_when_set_and_must_be_positive() -> None:
    """A profile without it records the settings it always did (demo folders written before it still resume)."""
    assert "phantom_in_plane_mm" not in PROFILES["cpu-small"].as_dict()
    assert PROFILES["smoke"].as_dict()["phantom_in_plane_mm"] == 2.0
    with pytest.raises(ConfigurationError, match=r"in-plane voxel size must be positive, got 0\.0 mm"):
        replace(PROFILES["smoke"], phantom_in_plane_mm=0.0)


def test_findings_profile_adds_two_draws_of_each_learning_curve_subsample(tmp_path: Path) -> None:
    profile = get_profile("findings")
    assert profile.learning_curve_draws == 2
    assert profile.source_fold == 4 and profile.internal_training_cases == 27
    graph = build_demo_graph(DemoStudy(tmp_path / "demo", profile))
    curve = [job for job in graph.jobs if "pct" in job]
    assert curve == [f"{kind}-source_{size}{draw}" for size in ("25pct", "50pct") for draw in ("", "_draw2")
                     for kind in ("train", "predict")]
    train = graph.jobs["train"].step
    assert isinstance(train, TrainStep) and train.fold == 4  # the source model: all training cases, the last fold
    folds = {}
    for name in ("25pct", "25pct_draw2", "50pct", "50pct_draw2"):
        step = graph.jobs[f"train-source_{name}"].step
        assert isinstance(step, TrainStep) and step.model.results != train.model.results
        folds[name] = step.fold
    assert folds == {"25pct": 0, "25pct_draw2": 1, "50pct": 2, "50pct_draw2": 3}  # the split's fold order
    split = graph.jobs["split"].step
    assert ("draws", 2) in split.steps[0].options
    evaluation = graph.jobs["evaluate-internal"]
    assert {"predict-source_25pct", "predict-source_50pct_draw2"} <= set(evaluation.needs)
    sizes = {model.name: model.training_cases for model in evaluation.step.models}
    assert sizes["source"] == 27 and sizes["source_25pct"] == sizes["source_25pct_draw2"] == 7
    assert sizes["source_50pct"] == sizes["source_50pct_draw2"] == 14
    assert profile.as_dict()["learning_curve_draws"] == 2
    with pytest.raises(ConfigurationError, match="must ascend in"):
        DemoProfile(**{**asdict(profile), "learning_curve_fractions": (0.5, 0.25)})
    with pytest.raises(ConfigurationError, match="draws must be at least 1, got 0"):
        replace(profile, learning_curve_draws=0)


def test_one_learning_curve_draw_keeps_the_recorded_settings_and_split_of_earlier_demo_folders(
        tmp_path: Path) -> None:
    profile = get_profile("cpu-small")
    assert profile.learning_curve_draws == 1 and "learning_curve_draws" not in profile.as_dict()
    split = build_demo_graph(DemoStudy(tmp_path / "demo", profile)).jobs["split"].step
    assert [name for name, _ in split.steps[0].options] == ["fractions", "seed"]


# --------------------------------------------------------------------------------------------------
# the smoke profile end to end (stock nnU-Net CLIs)
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished ``strokeseg demo --profile smoke`` run: (folder, what the command printed)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo") / "demo_output"
    printed = io.StringIO()
    # one worker process: the other pytest worker has the second core, and every extra nnU-Net worker (spawned, with
    # its own torch import) costs seconds of CPU (-j 2 took 446 CPU-s, -j 1 344 CPU-s; generation and conversion in
    # parallel have their own tests)
    with contextlib.redirect_stdout(printed):
        code = main(["demo", "--profile", "smoke", "--out", str(out), "--device", "cpu", "-j", "1"])
    assert code == 0, printed.getvalue()
    return out, printed.getvalue()


def _check_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 1000, path



@pytest.mark.slow
def test_smoke_demo_writes_every_report(smoke_demo: tuple[Path, str]) -> None:
    out, printed = smoke_demo
    assert printed.count("done in") == 18 and "done in an earlier run" not in printed
    assert "Mean over test cases" in printed and "external_test: mean DSC" in printed
    # live progress of nnU-Net's training and prediction, one line per epoch / case; with one worker (-j 1)
    # nnUNetv2_predict runs without worker processes (-npp 0 -nps 0), which names no case
    assert "    train: epoch 1/2, loss " in printed and "pseudo-Dice" in printed and "ETA" in printed
    assert "    predict-source: predicting case 1/4" in printed and "-npp 0 -nps 0" in (
        out / "jobs" / "predict-source" / "log.txt").read_text()
    for finding in FINDINGS:
        assert f"- {finding}: " in printed
    for log in (out / "jobs").glob("*/log.txt"):  # logs keep no progress-bar redraws
        assert "\r" not in log.read_text(), log
    findings = {entry["name"]: entry for entry in json.loads((out / FINDINGS_FILE).read_text())["findings"]}
    assert tuple(findings) == FINDINGS
    for entry in findings.values():  # every finding has its statistic, CI and p-value fields, and a verdict
        assert set(entry) >= {"name", "statistic", "statistic_name", "ci", "p", "holds", "explanation"}
        assert isinstance(entry["holds"], bool) and entry["statistic_name"] and entry["explanation"]
    assert findings["vendor_gap"]["n"] == 4 and len(findings["vendor_gap"]["ci"]) == 2
    for test_set, dataset_folder in (("internal_test", "Dataset980_DemoInternal"),
                                     ("external_test", "Dataset983_DemoExternal_DA")):
        report = out / "evaluation" / test_set
        per_case = pd.read_csv(report / "per_case.csv", dtype={"case_id": str})
        labels = sorted((out / "nnUNet_raw" / dataset_folder / "labelsTs").glob("*.nii.gz"))
        assert len(labels) == 2
        assert sorted(per_case["model"].unique()) == sorted(MODELS)
        assert (per_case["status"] == "ok").all() and len(per_case) == len(MODELS) * len(labels)
        assert per_case["dice"].between(0, 1).all()
        for stratification in ("volume_stratum", "onset_stratum", "location", "vendor"):
            table = pd.read_csv(report / f"by_{stratification}.csv")
            assert {"model", "stratum", "metric", "n", "mean", "ci_low", "ci_high"} <= set(table.columns)
            assert set(table["model"]) == set(MODELS) and (table["n"] >= 0).all()
            _check_png(report / f"dice_by_{stratification}.png")
        agreement = pd.read_csv(report / "volume_agreement.csv")
        assert {"pearson_r", "ccc", "ba_bias_ml"} <= set(agreement.columns) and not agreement.empty
        _check_png(report / "bland_altman.png")
        summary = json.loads((report / "summary.json").read_text())
        assert summary["models"][SOURCE]["cases_by_status"] == {"ok": 2}
        for model in (SOURCE, FINETUNED):  # post-processed predictions on the image grid, labels 0/1
            for prediction in sorted((out / "postprocessed" / model / test_set).glob("*.nii.gz")):
                array, geometry = read_array(prediction)
                assert set(np.unique(array).tolist()) <= {0, 1}
                image = out / "nnUNet_raw" / dataset_folder / "imagesTs" / prediction.name.replace(".nii.gz",
                                                                                                  "_0000.nii.gz")
                assert geometry.differences(read_header_geometry(image)) == []
    grid = pd.read_csv(out / "results" / "adaptation_grid.csv")
    assert sorted(grid["test_set"].unique()) == sorted(TEST_SETS)
    assert set(grid["metric"]) == {"dice", "sensitivity", "precision"} and grid["n"].between(0, 2).all()
    assert (grid.loc[grid["metric"] == "dice", "n"] == 2).all()  # precision is undefined for an empty prediction
    assert (grid["before"] == SOURCE).all() and (grid["after"] == FINETUNED).all()
    _check_png(out / "results" / "adaptation_grid.png")
    _check_png(out / "cohort" / "montage.png")
    # the smoke profile's phantoms have 2 mm voxels in plane at every hospital (its network sees 4 mm)
    for image in (out / "nnUNet_raw").glob("Dataset98[02]_*/images*/*_0000.nii.gz"):
        assert read_header_geometry(image).spacing[:2] == pytest.approx((2.0, 2.0)), image
    fitted = json.loads((out / "postprocessing" / "postprocessing.json").read_text())
    assert fitted["validation"]["n_cases"] >= 1 and "min_volume_ml" in fitted["params"]
    # fine-tuning and its control arm started from the source model through nnU-Net's -pretrained_weights
    (source,) = (out / "nnUNet_results").glob("Dataset980_*/*/fold_0/checkpoint_final.pth")
    for results in ("finetune_results", "control_results"):
        (fold,) = (out / results).glob("*/*/fold_0")
        assert "Loaded layers:" in "\n".join(p.read_text() for p in fold.glob("training_log_*.txt")), results
        record = torch.load(fold / "checkpoint_final.pth", map_location="cpu", weights_only=False)[CHECKPOINT_KEY]
        assert record["pretrained_weights"]["path"] == str(source), results
        assert record["pretrained_weights"]["loaded_tensors"] > 0, results


@pytest.mark.slow
def test_smoke_demo_summary_shows_real_numbers(smoke_demo: tuple[Path, str]) -> None:
    out, _ = smoke_demo
    text = (out / "SUMMARY.md").read_text()
    for heading in ("## Headline", "## Post-processing", "### Infarct volume (mL)", "### Onset-to-imaging time",
                    "### Location", "### Vendor", "## Volume agreement", "## Domain adaptation", "## Figures",
                    "## Stage timings", "## Cohort characteristics", "## DSC against lesion size"):
        assert heading in text, heading
    headline = text.split("## Headline", 1)[1].split("## Post-processing", 1)[0]
    dice = float(headline.split("**", 2)[1])
    per_case = pd.read_csv(out / "evaluation" / "internal_test" / "per_case.csv")
    assert math.isclose(dice, per_case.loc[per_case["model"] == SOURCE, "dice"].mean(), abs_tol=5e-4)
    assert "| source | internal_test | 2 |" in headline
    assert text.count("mean DSC") >= 3 and "paired t p =" in text
    for link in ("results/adaptation_grid.png", "evaluation/internal_test/bland_altman.png", "cohort/montage.png"):
        assert f"]({link})" in text and (out / link).is_file()


@pytest.mark.slow
def test_smoke_demo_plans_and_prediction_path_match_planning(smoke_demo: tuple[Path, str]) -> None:
    """The DWI plans carry strokeseg's pipeline, and prediction preprocesses a case exactly as planning did."""
    out, _ = smoke_demo
    preprocessed = out / "nnUNet_preprocessed" / "Dataset980_DemoInternal"
    plans = json.loads((preprocessed / "strokesegDWIPlansDemo.json").read_text())
    fullres = plans["configurations"]["3d_fullres"]
    assert fullres["preprocessor_name"] == "StrokesegPreprocessor"
    assert fullres["normalization_schemes"] == ["HistogramPeakNormalization", "ADCRangeNormalization"]
    assert fullres["use_mask_for_norm"] == [True, True] and fullres["spacing"] == [5.0, 4.0, 4.0]
    assert fullres[PLANS_KEY]["foreground_mask"] and fullres[PLANS_KEY]["n4_channels"] == [0]
    assert fullres[PLANS_KEY]["adc_channels"] == [1]
    zoom_in, zoom_out = (plans["configurations"][name] for name in (ZOOM_IN_CONFIGURATION, ZOOM_OUT_CONFIGURATION))
    assert zoom_in["data_identifier"] == zoom_out["data_identifier"] == fullres["data_identifier"]
    assert zoom_in["architecture"] == zoom_out["architecture"]
    schedule = zoom_schedule_from_plans(plans)
    strides = np.prod(zoom_out["architecture"]["arch_kwargs"]["strides"], axis=0)
    assert np.all(np.asarray(schedule.zoom_out_patch_size) % strides == 0)

    model = (out / "nnUNet_results" / "Dataset980_DemoInternal"
             / "nnUNetTrainer_strokeseg_Noh2023_Tiny__strokesegDWIPlansDemo__3d_fullres")
    case_id = json.loads((preprocessed / "splits_final.json").read_text())[0]["train"][0]
    planned = nnUNetDatasetBlosc2(str(preprocessed / fullres["data_identifier"]), identifiers=[case_id])
    planned_data, _, _, planned_properties = planned.load_case(case_id)
    raw = out / "nnUNet_raw" / "Dataset980_DemoInternal" / "imagesTr"
    predictor = nnUNetPredictor(device=torch.device("cpu"), verbose=False)
    predictor.initialize_from_trained_model_folder(str(model), use_folds=(0,), checkpoint_name="checkpoint_final.pth")
    # what nnUNetPredictor.predict_from_files runs (a spawned worker with the model's plans); the network is not run
    items = list(preprocessing_iterator_fromfiles([[str(raw / f"{case_id}_{c:04d}.nii.gz") for c in range(2)]], None,
                                                  None, predictor.plans_manager, predictor.dataset_json,
                                                  predictor.configuration_manager, 1))
    assert len(items) == 1
    assert np.array_equal(np.asarray(planned_data[:]), items[0]["data"].numpy())
    assert planned_properties["bbox_used_for_cropping"] == items[0]["data_properties"]["bbox_used_for_cropping"]
    assert planned_properties[PLANS_KEY] == items[0]["data_properties"][PLANS_KEY]


@pytest.mark.slow
def test_smoke_demo_rerun_resumes_and_other_settings_are_refused(smoke_demo: tuple[Path, str], capsys) -> None:
    out, _ = smoke_demo
    assert main(["demo", "--profile", "smoke", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("done in an earlier run") == 18 and "Mean over test cases" in printed
    assert main(["demo", "--profile", "cpu-small", "--out", str(out)]) != 0
    assert "other settings" in capsys.readouterr().err
    assert (out / "SUMMARY.md").is_file()  # nothing deleted without --overwrite
