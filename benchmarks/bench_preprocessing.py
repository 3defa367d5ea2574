"""Speed of strokeseg's DWI preprocessing beside nnU-Net's DefaultPreprocessor and a naive full-resolution N4.

Per 256×256×30 DWI case (1×1×5 mm phantom heads with a known bias field), all measured in this run:

* ``nnU-Net DefaultPreprocessor``: nnU-Net's crop, z-score normalization and resampling only;
* ``strokeseg``: StrokesegPreprocessor with the plans StrokeDWIPlanner writes (skull strip + N4 on a shrunk
  image + per-slice histogram-peak normalization + nnU-Net's crop/resample);
* ``naive full-resolution N4``: the same pipeline with SimpleITK's N4 run the textbook way, on the whole
  full-resolution image with the same levels and iterations.

It also prints the accuracy of both bias-field corrections on the phantom's white matter (coefficient of
variation before and after; the tests require a reduction of at least 50 %).

Targets (issue 6): strokeseg ≤ 1.5 s per case, ≥ 10× faster than the naive pipeline.

    .venv/bin/python benchmarks/bench_preprocessing.py            # 3 cases, 2 threads
    .venv/bin/python benchmarks/bench_preprocessing.py --cases 5 --threads 1 --n4-shrink-mm 4
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3, help="phantom cases to time (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for SimpleITK and torch (default 2)")
    parser.add_argument("--skip-naive", action="store_true", help="do not run the slow naive pipeline")
    parser.add_argument("--n4-shrink-mm", type=float, help="override the plans' N4 shrink spacing (mm)")
    return parser.parse_args()


def _timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    arguments = _arguments()
    with tempfile.TemporaryDirectory(prefix="strokeseg_bench_") as folder:
        work = Path(folder)
        for variable, name in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"),
                               ("nnUNet_results", "results")):
            os.environ[variable] = str(work / name)
            (work / name).mkdir()
        _run(arguments, work)


def _run(arguments: argparse.Namespace, work: Path) -> None:
    # nnU-Net reads its folders from the environment when first imported, so it is imported here
    import numpy as np
    import SimpleITK as sitk
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager

    from strokeseg.preprocessing.pipeline import prepare_case
    from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, case_preparation
    from strokeseg.preprocessing.settings import PLANS_KEY
    from strokeseg.preprocessing.skull_strip import skull_strip_mask
    from strokeseg.synthetic.analytic_head import coefficient_of_variation, head_phantom, write_phantom_dataset

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(arguments.threads)
    torch.set_num_threads(arguments.threads)
    shape, spacing = (30, 256, 256), (5.0, 1.0, 1.0)
    raw = write_phantom_dataset(work / "raw", 990, "Bench", num_training=arguments.cases, num_test=0,
                                shape=shape, spacing=spacing)
    with contextlib.redirect_stdout(io.StringIO()):  # nnU-Net prints its plans
        extract_fingerprints([990], num_processes=1, verbose=False, show_progress_bar=False)
        plans_name = plan_experiments([990], "StrokeDWIPlanner")
    plans_file = str(work / "preprocessed" / raw.name / f"{plans_name}.json")

    def configuration(**changes: object) -> tuple[PlansManager, ConfigurationManager]:
        plans = PlansManager(plans_file)
        configuration = plans.get_configuration("3d_fullres")
        configuration.configuration.update(changes)
        return plans, configuration

    ours_plans, ours_configuration = configuration()
    settings = case_preparation(ours_configuration.configuration, ["DWI"])
    if arguments.n4_shrink_mm is not None:
        settings = dataclasses.replace(settings, n4_shrink_spacing_mm=arguments.n4_shrink_mm)
        ours_configuration.configuration[PLANS_KEY] = settings.to_plans()
    default_plans, default_configuration = configuration(
        normalization_schemes=["ZScoreNormalization"], use_mask_for_norm=[False],
        preprocessor_name="DefaultPreprocessor")
    naive_plans, naive_configuration = configuration(**{PLANS_KEY: {**settings.to_plans(), "n4_channels": []}})
    dataset_json = {"channel_names": {"0": "DWI"}, "labels": {"background": 0, "lesion": 1}, "file_ending": ".nii.gz"}
    files = [[str(path)] for path in sorted((raw / "imagesTr").glob("*_0000.nii.gz"))]
    ours = StrokesegPreprocessor(verbose=False)

    def textbook_n4(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """SimpleITK's N4 on the whole full-resolution image, same levels and iterations as strokeseg's."""
        image = sitk.GetImageFromArray(array.astype(np.float32))
        image.SetSpacing(tuple(reversed(spacing)))
        mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
        mask_image.CopyInformation(image)
        corrector = sitk.N4BiasFieldCorrectionImageFilter()
        corrector.SetMaximumNumberOfIterations([settings.n4_iterations] * settings.n4_levels)
        corrector.SetConvergenceThreshold(settings.n4_convergence_threshold)
        return sitk.GetArrayFromImage(corrector.Execute(image, mask_image))

    def naive(case: list[str]) -> object:
        """Read, skull strip, textbook N4, then the rest of strokeseg's pipeline (without its own N4)."""
        data, properties = SimpleITKIO().read_images(case)
        mask = skull_strip_mask(data[0], spacing, settings.skull_strip_sigma_mm)
        corrected = textbook_n4(np.where(mask, data[0], 0.0), mask)
        return ours.run_case_npy(corrected[None], None, properties, naive_plans, naive_configuration, dataset_json)

    timings: dict[str, list[float]] = {"nnU-Net DefaultPreprocessor": [], "strokeseg": [],
                                       "naive full-resolution N4": []}
    stock = DefaultPreprocessor(verbose=False)
    for case in files:
        timings["nnU-Net DefaultPreprocessor"].append(_timed(lambda c=case: stock.run_case(
            c, None, default_plans, default_configuration, dataset_json))[0])
        timings["strokeseg"].append(_timed(lambda c=case: ours.run_case(
            c, None, ours_plans, ours_configuration, dataset_json))[0])
        if not arguments.skip_naive:
            timings["naive full-resolution N4"].append(_timed(lambda c=case: naive(c))[0])

    phantom = head_phantom(shape, spacing, bias_strength=0.35)
    image = phantom.image("DWI")
    before = coefficient_of_variation(image, phantom.white_matter)
    after = coefficient_of_variation(prepare_case(image[None], spacing, settings, ["DWI"]).data[0],
                                     phantom.white_matter)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"strokeseg DWI preprocessing, {shape[2]}×{shape[1]}×{shape[0]} voxels at {spacing[2]:g}×{spacing[1]:g}×"
          f"{spacing[0]:g} mm, {len(files)} case(s), {arguments.threads} thread(s), load average {load}; "
          f"N4: {settings.n4_levels} levels × {settings.n4_iterations} iterations, fitted on "
          f"{settings.n4_shrink_spacing_mm:g} mm voxels")
    print(f"{'pipeline':32s} {'median s/case':>14s} {'min':>7s} {'max':>7s}")
    for name, values in timings.items():
        if values:
            print(f"{name:32s} {statistics.median(values):14.3f} {min(values):7.3f} {max(values):7.3f}")
    median = {name: statistics.median(values) for name, values in timings.items() if values}
    print(f"strokeseg / DefaultPreprocessor: {median['strokeseg'] / median['nnU-Net DefaultPreprocessor']:.1f}×; "
          f"target ≤ 1.5 s per case: {'met' if median['strokeseg'] <= 1.5 else 'NOT met'}")
    line = (f"white-matter CV under the phantom's bias field: {before:.4f} -> strokeseg {after:.4f} "
            f"({100 * (1 - after / before):.0f} % lower)")
    if "naive full-resolution N4" in median:
        ratio = median["naive full-resolution N4"] / median["strokeseg"]
        print(f"naive / strokeseg: {ratio:.1f}× faster; target ≥ 10×: {'met' if ratio >= 10 else 'NOT met'}")
        mask = skull_strip_mask(image, spacing)
        naive_after = coefficient_of_variation(textbook_n4(np.where(mask, image, 0.0), mask), phantom.white_matter)
        line += f", naive {naive_after:.4f} ({100 * (1 - naive_after / before):.0f} % lower)"
    print(line)


if __name__ == "__main__":
    main()
