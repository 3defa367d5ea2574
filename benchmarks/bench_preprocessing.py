"""Speed of strokeseg's preprocessing per case for the DWI, FLAIR (WMH) and T1w (ATLAS) presets, beside peers.

Each pipeline is the path its paper preset runs on a case at prediction (``StrokesegPreprocessor.run_case`` with
the preset's planner and configuration, no label map), timed on cases written for this run:

* ``dwi`` (preset ``noh_registry_dwi``: StrokeDWIPlanner, 3d_fullres): 256×256×30 analytic phantom heads at
  1×1×5 mm with a known bias field; skull strip + N4 on a shrunk image + per-slice histogram-peak
  normalization + nnU-Net's crop/resample;
* ``flair`` (preset ``kim_wmh_flair``: KimWMHPlanner, 2d): template phantoms of kind "wmh" on the WMH sites'
  native grids (~1×1×3 mm, ~240×240×54); Kim et al.'s slice-wise 0-255 rescaling, case-wise 32-bin histogram peak to
  150, mask > 30, z-score, slices resized to 256×256 by cubic B-spline (no skull strip, no N4);
* ``t1w`` (preset ``tomita_atlas_zoom``: TomitaAtlasPlanner, 3d_zoomout): template phantoms of kind "chronic"
  on the 197×233×189 1 mm MNI grid of ATLAS; foreground mask + N4 + z-score in the mask, prediction restricted
  to the centre 144×172×168 mm.

Peers, measured in the same run on the same cases and plans:

* ``nnU-Net DefaultPreprocessor``: nnU-Net's crop, z-score normalization and resampling only;
* ``naive full-resolution N4`` (pipelines with N4): the same pipeline with SimpleITK's N4 run the textbook way,
  on the whole full-resolution image with the same levels and iterations, on the first ``--naive-cases`` cases
  (default 1: it takes minutes per 1 mm T1w volume; ``--skip-naive`` leaves it out).

It prints wall-clock and CPU seconds per case, the ratios on both clocks and the verdicts on the target of
≤ 1.5 s per case (issues 6 and 23; naive ≥ 10× slower for the DWI pipeline): on the wall clock, and whether the
CPU time of all threads together stays within it too (the case would fit even on one core). On a shared machine
the wall clock also counts the time other jobs held the cores; CPU time does not. For the DWI
pipeline it also prints the accuracy of both bias-field corrections on the phantom's white matter (coefficient of
variation before and after; the tests require a reduction of at least 50 %).

    .venv/bin/python benchmarks/bench_preprocessing.py                   # 3 cases per pipeline (naive: 1), 2 threads
    .venv/bin/python benchmarks/bench_preprocessing.py --pipelines t1w --skip-naive --cases 5
    .venv/bin/python benchmarks/bench_preprocessing.py --pipelines dwi --threads 1 --n4-shrink-mm 4
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

#: The ≤ 1.5 s per case target (s).
TARGET_S = 1.5
#: The naive full-resolution N4 pipeline must be at least this many times slower than strokeseg's (DWI, issue 6).
NAIVE_RATIO_TARGET = 10.0
STOCK, OURS, NAIVE = "nnU-Net DefaultPreprocessor", "strokeseg", "naive full-resolution N4"
#: Analytic DWI phantom heads: array shape (z, y, x) and spacing (mm).
DWI_SHAPE, DWI_SPACING = (30, 256, 256), (5.0, 1.0, 1.0)
#: ``--tiny``: every pipeline on analytic phantom heads of this shape and spacing in its channel's contrast.
TINY_SHAPE, TINY_SPACING = (12, 48, 48), (5.0, 3.0, 3.0)


def write_analytic_cases(raw_root: Path, dataset_id: int, cases: int, channel: str = "DWI",
                         shape: tuple[int, int, int] = DWI_SHAPE,
                         spacing: tuple[float, float, float] = DWI_SPACING) -> Path:
    """``cases`` analytic phantom heads (known bias field) in ``channel``'s contrast as an nnU-Net raw dataset;
    ``shape`` (z, y, x) and ``spacing`` (mm) default to the DWI pipeline's 256×256×30 voxels at 1×1×5 mm."""
    from strokeseg.synthetic.analytic_head import write_phantom_dataset

    return write_phantom_dataset(raw_root, dataset_id, f"Bench{channel}", channels=(channel,), num_training=cases,
                                 num_test=0, shape=shape, spacing=spacing)


def write_template_cases(raw_root: Path, dataset_id: int, cases: int, kind: str, image: str, channel: str,
                         labels: dict[str, int], cache_dir: Path | None = None) -> Path:
    """``cases`` template phantoms of ``kind`` (their ``image``, e.g. "t1", as channel ``channel``) as an nnU-Net raw
    dataset, one site after another of the kind's sites, each on its site's native grid."""
    from strokeseg.io import write_image_atomic
    from strokeseg.nnunet.raw import dataset_folder_name, image_path, label_path, write_dataset_json
    from strokeseg.synthetic import ATLAS_SITES, WMH_SITES
    from strokeseg.synthetic.phantom import make_phantom

    sites = {"wmh": WMH_SITES, "chronic": ATLAS_SITES}[kind]
    folder = raw_root / dataset_folder_name(dataset_id, f"Bench{channel}")
    for index in range(cases):
        case = make_phantom(index, 23, sites[index % len(sites)], kind, cache_dir=cache_dir)
        write_image_atomic(case.images[image], image_path(folder, f"{kind}_{index:03d}", 0))
        write_image_atomic(case.label, label_path(folder, f"{kind}_{index:03d}"))
    write_dataset_json(folder, {0: channel}, labels, cases, description="strokeseg benchmark phantoms (synthetic)")
    return folder


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """One preset's preprocessing as the benchmark times it.

    Attributes:
        key: name on the command line.
        preset: the paper preset whose planner and configuration are timed.
        channel: the one channel's name in dataset.json.
        inputs: what the cases are, for the printout.
        write_cases: ``(raw_root, dataset_id, cases) -> dataset folder``.
    """

    key: str
    preset: str
    channel: str
    inputs: str
    write_cases: Callable[[Path, int, int], Path]


PIPELINES: tuple[Pipeline, ...] = (
    Pipeline("dwi", "noh_registry_dwi", "DWI", "analytic phantom heads", write_analytic_cases),
    Pipeline("flair", "kim_wmh_flair", "FLAIR", "template phantoms, kind 'wmh' (WMH sites)",
             partial(write_template_cases, kind="wmh", image="flair", channel="FLAIR",
                     labels={"background": 0, "WMH": 1, "ignore": 2})),
    Pipeline("t1w", "tomita_atlas_zoom", "T1w", "template phantoms, kind 'chronic' (ATLAS MNI grid)",
             partial(write_template_cases, kind="chronic", image="t1", channel="T1w",
                     labels={"background": 0, "lesion": 1})),
)


@dataclasses.dataclass(frozen=True)
class PlannedDataset:
    """A raw dataset planned with its preset's planner: what the timed functions need.

    Attributes:
        plans_file: the planner's plans.json.
        configuration: the preset's configuration name.
        dataset_json: dataset.json's content.
        cases: per case, its image files (one per channel).
    """

    plans_file: Path
    configuration: str
    dataset_json: dict[str, Any]
    cases: list[list[str]]

    def plans(self, **changes: object) -> tuple[Any, Any]:
        """``(PlansManager, ConfigurationManager)`` of the configuration with ``changes`` applied to it."""
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        plans = PlansManager(str(self.plans_file))
        configuration = plans.get_configuration(self.configuration)
        configuration.configuration.update(changes)
        return plans, configuration


def plan_dataset(folder: Path, preprocessed_root: Path, planner: str, configuration: str) -> PlannedDataset:
    """Fingerprint and plan the raw dataset ``folder`` with ``planner`` (nnU-Net's folders must be set). The
    fingerprint is strokeseg's (10^6 intensity samples instead of 10^8: none of the three pipelines reads them)."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments

    from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor

    dataset_id = int(folder.name[len("Dataset"):].split("_")[0])
    with contextlib.redirect_stdout(io.StringIO()):  # nnU-Net prints its plans
        extract_fingerprints([dataset_id], StrokesegFingerprintExtractor.__name__, num_processes=1, verbose=False,
                             show_progress_bar=False)
        plans_name = plan_experiments([dataset_id], planner)
    dataset_json = json.loads((folder / "dataset.json").read_text())
    channels = len(dataset_json["channel_names"])
    cases = [[str(folder / "imagesTr" / label.name.replace(".nii.gz", f"_{c:04d}.nii.gz")) for c in range(channels)]
             for label in sorted((folder / "labelsTr").glob("*.nii.gz"))]
    return PlannedDataset(preprocessed_root / folder.name / f"{plans_name}.json", configuration, dataset_json, cases)


def textbook_n4(array: Any, mask: Any, spacing: Sequence[float], settings: Any) -> Any:
    """SimpleITK's N4 on the whole full-resolution image (axes and ``spacing`` z, y, x in mm), with strokeseg's
    levels, iterations and convergence threshold (``settings``: a CasePreparation)."""
    import numpy as np
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing(tuple(float(s) for s in reversed(spacing)))
    mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
    mask_image.CopyInformation(image)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([settings.n4_iterations] * settings.n4_levels)
    corrector.SetConvergenceThreshold(settings.n4_convergence_threshold)
    return sitk.GetArrayFromImage(corrector.Execute(image, mask_image))


def timed_functions(planned: PlannedDataset, n4_shrink_mm: float | None = None,
                    naive: bool = True) -> tuple[dict[str, Callable[[list[str]], object]], Any]:
    """The preprocessings to time, by name, each taking a case's image files; and strokeseg's settings.

    ``naive`` adds the full-resolution N4 peer when the plans correct a bias field.
    """
    import numpy as np
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor

    from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, case_preparation, channel_names
    from strokeseg.preprocessing.settings import PLANS_KEY
    from strokeseg.preprocessing.skull_strip import skull_strip_mask

    dataset_json = planned.dataset_json
    ours_plans, ours_configuration = planned.plans()
    settings = case_preparation(ours_configuration.configuration, channel_names(dataset_json))
    if n4_shrink_mm is not None:
        settings = dataclasses.replace(settings, n4_shrink_spacing_mm=n4_shrink_mm)
        ours_configuration.configuration[PLANS_KEY] = settings.to_plans()
    channels = len(dataset_json["channel_names"])
    stock_plans, stock_configuration = planned.plans(normalization_schemes=["ZScoreNormalization"] * channels,
                                                     use_mask_for_norm=[False] * channels,
                                                     preprocessor_name="DefaultPreprocessor")
    ours, stock = StrokesegPreprocessor(verbose=False), DefaultPreprocessor(verbose=False)
    functions: dict[str, Callable[[list[str]], object]] = {
        STOCK: lambda case: stock.run_case(case, None, stock_plans, stock_configuration, dataset_json),
        OURS: lambda case: ours.run_case(case, None, ours_plans, ours_configuration, dataset_json),
    }
    if naive and settings.n4_channels:
        naive_plans, naive_configuration = planned.plans(**{PLANS_KEY: {**settings.to_plans(), "n4_channels": []}})

        def naive_run(case: list[str]) -> object:
            """Read, skull strip, textbook N4, then the rest of strokeseg's pipeline (without its own N4)."""
            data, properties = SimpleITKIO().read_images(case)
            spacing = properties["spacing"]
            mask = skull_strip_mask(data[settings.mask_channel], spacing, settings.skull_strip_sigma_mm)
            data = np.where(mask, data, 0.0).astype(np.float32)
            for index in settings.n4_channels:
                data[index] = textbook_n4(data[index], mask, spacing, settings)
            return ours.run_case_npy(data, None, properties, naive_plans, naive_configuration, dataset_json)

        functions[NAIVE] = naive_run
    return functions, settings


@dataclasses.dataclass
class Timings:
    """Wall-clock and CPU seconds per case of each timed function."""

    wall: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    cpu: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, name: str, function: Callable[[], object]) -> None:
        """Run ``function`` once and record its times under ``name``."""
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        self.wall.setdefault(name, []).append(time.perf_counter() - wall)
        self.cpu.setdefault(name, []).append(time.process_time() - cpu)

    def median(self, name: str) -> float:
        """Median wall-clock seconds per case."""
        return statistics.median(self.wall[name])

    def median_cpu(self, name: str) -> float:
        """Median CPU seconds per case (all threads of this process)."""
        return statistics.median(self.cpu[name])


def time_cases(functions: dict[str, Callable[[list[str]], object]], cases: list[list[str]],
               naive_cases: int) -> Timings:
    """Each function on each case, interleaved case by case (so a change of load hits every function alike); the
    naive pipeline only on the first ``naive_cases`` cases (it takes minutes per 1 mm T1w volume)."""
    timings = Timings()
    for index, case in enumerate(cases):
        for name, function in functions.items():
            if name != NAIVE or index < naive_cases:
                timings.add(name, partial(function, case))
    return timings


def grid_of(image_file: str) -> str:
    """``240×240×54 voxels at 0.96×0.96×3 mm`` (x, y, z) from an image's header."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(image_file)
    reader.ReadImageInformation()
    size = "×".join(str(n) for n in reader.GetSize())
    return f"{size} voxels at {'×'.join(f'{s:.3g}' for s in reader.GetSpacing())} mm"


def report(pipeline: Pipeline, inputs: str, planned: PlannedDataset, timings: Timings, settings: Any) -> None:
    """Print one pipeline's table, ratios and verdicts (``inputs``: what the cases are)."""
    from strokeseg.papers import get_preset

    preset = get_preset(pipeline.preset)
    n4 = (f"N4 on channels {list(settings.n4_channels)}: {settings.n4_levels} levels × {settings.n4_iterations} "
          f"iterations, fitted on {settings.n4_shrink_spacing_mm:g} mm voxels" if settings.n4_channels else "no N4")
    print(f"\n{pipeline.key}: preset {preset.key} ({preset.planner}, {planned.configuration}); {len(planned.cases)} "
          f"case(s) of {inputs}, first {grid_of(planned.cases[0][0])}; {n4}")
    print(f"{'pipeline':32s} {'cases':>5s} {'median s/case':>14s} {'min':>7s} {'max':>7s} {'CPU s/case':>11s}")
    for name, values in timings.wall.items():
        print(f"{name:32s} {len(values):5d} {statistics.median(values):14.3f} {min(values):7.3f} {max(values):7.3f} "
              f"{timings.median_cpu(name):11.3f}")
    print(f"{pipeline.key}: " + "; ".join(verdicts(pipeline.key, timings)))


def verdicts(key: str, timings: Timings) -> list[str]:
    """Ratios and target verdicts of one pipeline, on wall-clock time and on CPU time (on a shared machine the wall
    clock also counts the time other jobs held the cores)."""
    lines = []
    for measure, median, target in (("wall", timings.median, "target ≤"),
                                    ("CPU (all threads)", timings.median_cpu, "even on one core ≤")):
        ours = median(OURS)
        line = (f"{measure}: strokeseg / DefaultPreprocessor {ours / median(STOCK):.1f}×, {target} {TARGET_S:g} s per "
                f"case {'met' if ours <= TARGET_S else 'NOT met'}")
        if NAIVE in timings.wall:
            ratio = median(NAIVE) / ours
            line += f", naive {ratio:.1f}× slower"
            if key == "dwi":
                line += f" (target ≥ {NAIVE_RATIO_TARGET:g}×: {'met' if ratio >= NAIVE_RATIO_TARGET else 'NOT met'})"
        lines.append(line)
    return lines


def dwi_correction_accuracy(settings: Any, naive: bool, shape: tuple[int, int, int] = DWI_SHAPE,
                            spacing: tuple[float, float, float] = DWI_SPACING) -> str:
    """White-matter coefficient of variation of an analytic DWI phantom (``shape`` z, y, x at ``spacing`` mm) before
    and after the bias correction(s)."""
    import numpy as np

    from strokeseg.preprocessing.pipeline import prepare_case
    from strokeseg.preprocessing.skull_strip import skull_strip_mask
    from strokeseg.synthetic.analytic_head import coefficient_of_variation, head_phantom

    phantom = head_phantom(shape, spacing, bias_strength=0.35)
    image = phantom.image("DWI")
    before = coefficient_of_variation(image, phantom.white_matter)
    after = coefficient_of_variation(prepare_case(image[None], spacing, settings, ["DWI"]).data[0],
                                     phantom.white_matter)
    line = (f"dwi: white-matter CV under the phantom's bias field: {before:.4f} -> strokeseg {after:.4f} "
            f"({100 * (1 - after / before):.0f} % lower)")
    if naive:
        mask = skull_strip_mask(image, spacing)
        naive_after = coefficient_of_variation(textbook_n4(np.where(mask, image, 0.0), mask, spacing, settings),
                                               phantom.white_matter)
        line += f", naive {naive_after:.4f} ({100 * (1 - naive_after / before):.0f} % lower)"
    return line


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    keys = [pipeline.key for pipeline in PIPELINES]
    parser.add_argument("--pipelines", nargs="+", choices=keys, default=keys, help="pipelines to time (default: all)")
    parser.add_argument("--cases", type=int, default=3, help="phantom cases per pipeline (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for SimpleITK and torch (default 2)")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the slow naive pipelines")
    parser.add_argument("--naive-cases", type=int, default=1,
                        help="cases the naive pipelines are timed on, the first ones (default 1: ~5 min per T1w case "
                             "on 2 loaded cores)")
    parser.add_argument("--n4-shrink-mm", type=float, help="override the plans' N4 shrink spacing (mm)")
    parser.add_argument("--tiny", action="store_true",
                        help="rehearsal (the tests): every pipeline on small analytic phantom heads of its channel "
                             "(12×48×48 voxels at 3×3×5 mm); the times mean nothing")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = _arguments(argv)
    with tempfile.TemporaryDirectory(prefix="strokeseg_bench_") as folder:
        work = Path(folder)
        for variable, name in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"),
                               ("nnUNet_results", "results")):
            os.environ[variable] = str(work / name)
            (work / name).mkdir()
        _run(arguments, work)


def _write_cases(pipeline: Pipeline, raw_root: Path, dataset_id: int, cases: int, tiny: bool) -> tuple[str, Path]:
    """``(what the cases are, dataset folder)``: the pipeline's own cases, or with ``tiny`` small analytic heads."""
    if tiny:
        return "analytic phantom heads (--tiny)", write_analytic_cases(raw_root, dataset_id, cases, pipeline.channel,
                                                                       TINY_SHAPE, TINY_SPACING)
    return pipeline.inputs, pipeline.write_cases(raw_root, dataset_id, cases)


def _run(arguments: argparse.Namespace, work: Path) -> None:
    # nnU-Net reads its folders from the environment when first imported, so it is imported only now
    import SimpleITK as sitk
    import torch

    from strokeseg.papers import get_preset

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(arguments.threads)
    torch.set_num_threads(arguments.threads)
    print(f"strokeseg preprocessing per case, {arguments.threads} thread(s), load average "
          f"{', '.join(f'{value:.1f}' for value in os.getloadavg())}")
    for dataset_id, pipeline in enumerate(PIPELINES, start=990):
        if pipeline.key not in arguments.pipelines:
            continue
        preset = get_preset(pipeline.preset)
        inputs, folder = _write_cases(pipeline, work / "raw", dataset_id, arguments.cases, arguments.tiny)
        planned = plan_dataset(folder, work / "preprocessed", preset.planner, preset.configuration)
        functions, settings = timed_functions(planned, arguments.n4_shrink_mm, not arguments.skip_naive)
        report(pipeline, inputs, planned, time_cases(functions, planned.cases, arguments.naive_cases), settings)
        if pipeline.key == "dwi":
            grid = (TINY_SHAPE, TINY_SPACING) if arguments.tiny else (DWI_SHAPE, DWI_SPACING)
            print(dwi_correction_accuracy(settings, not arguments.skip_naive, *grid))
    print(f"load average at the end {', '.join(f'{value:.1f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
