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
    .venv/bin/python benchmarks/bench_preprocessing.py --cases 5 --threads 1
"""

from __future__ import annotations

import argparse
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
    return parser.parse_args()


def _timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main() -> None:
    arguments = _arguments()
    work = Path(tempfile.mkdtemp(prefix="strokeseg_bench_"))
    for variable, folder in (("nnUNet_raw", "raw"), ("nnUNet_preprocessed", "preprocessed"),
                             ("nnUNet_results", "results")):
        os.environ[variable] = str(work / folder)
        (work / folder).mkdir()
    # nnU-Net reads its folders from the environment when first imported
    import numpy as np
    import SimpleITK as sitk
    import torch
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, plan_experiments
    from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from strokeseg.preprocessing.intensity import slicewise_peak_normalize
    from strokeseg.preprocessing.phantom import coefficient_of_variation, head_phantom, write_phantom_dataset
    from strokeseg.preprocessing.pipeline import prepare_case
    from strokeseg.preprocessing.preprocessors import StrokesegPreprocessor, case_preparation
    from strokeseg.preprocessing.settings import PLANS_KEY
    from strokeseg.preprocessing.skull_strip import skull_strip_mask

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(arguments.threads)
    torch.set_num_threads(arguments.threads)
    shape, spacing = (30, 256, 256), (5.0, 1.0, 1.0)
    raw = write_phantom_dataset(work / "raw", 990, "Bench", num_training=arguments.cases, num_test=0,
                                shape=shape, spacing=spacing)
    extract_fingerprints([990], num_processes=1, verbose=False, show_progress_bar=False)
    plans_name = plan_experiments([990], "StrokeDWIPlanner")
    plans = PlansManager(str(work / "preprocessed" / raw.name / f"{plans_name}.json"))
    ours_configuration = plans.get_configuration("3d_fullres")
    default_plans = PlansManager(str(work / "preprocessed" / raw.name / f"{plans_name}.json"))
    default_configuration = default_plans.get_configuration("3d_fullres")
    default_configuration.configuration.update(normalization_schemes=["ZScoreNormalization"],
                                               use_mask_for_norm=[False], preprocessor_name="DefaultPreprocessor")
    dataset_json = {"channel_names": {"0": "DWI"}, "labels": {"background": 0, "lesion": 1}, "file_ending": ".nii.gz"}
    files = [[str(path)] for path in sorted((raw / "imagesTr").glob("*_0000.nii.gz"))]
    settings = case_preparation(ours_configuration.configuration, ["DWI"])

    def naive(case: list[str]) -> object:
        """Skull strip, then SimpleITK N4 on the whole full-resolution image, then the rest of our pipeline."""
        image = sitk.ReadImage(case[0], sitk.sitkFloat32)
        array = sitk.GetArrayFromImage(image)
        mask = skull_strip_mask(array, spacing, settings.skull_strip_sigma_mm)
        corrector = sitk.N4BiasFieldCorrectionImageFilter()
        corrector.SetMaximumNumberOfIterations([settings.n4_iterations] * settings.n4_levels)
        mask_image = sitk.GetImageFromArray(mask.astype(np.uint8))
        mask_image.CopyInformation(image)
        corrected = sitk.GetArrayFromImage(corrector.Execute(image, mask_image))
        normalized = slicewise_peak_normalize(np.where(mask, corrected, 0.0), mask)
        return DefaultPreprocessor(verbose=False).run_case_npy(normalized[None], None, {"spacing": list(spacing)},
                                                               default_plans, default_configuration, dataset_json)

    timings: dict[str, list[float]] = {"nnU-Net DefaultPreprocessor": [], "strokeseg": [],
                                       "naive full-resolution N4": []}
    ours = StrokesegPreprocessor(verbose=False)
    stock = DefaultPreprocessor(verbose=False)
    for case in files:
        timings["nnU-Net DefaultPreprocessor"].append(_timed(lambda c=case: stock.run_case(
            c, None, default_plans, default_configuration, dataset_json))[0])
        timings["strokeseg"].append(_timed(lambda c=case: ours.run_case(
            c, None, plans, ours_configuration, dataset_json))[0])
        if not arguments.skip_naive:
            timings["naive full-resolution N4"].append(_timed(lambda c=case: naive(c))[0])

    phantom = head_phantom(shape, spacing, bias_strength=0.35)
    image = phantom.image("DWI")
    before = coefficient_of_variation(image, phantom.white_matter)
    prepared = prepare_case(image[None], spacing, settings, ["DWI"])
    after = coefficient_of_variation(prepared.data[0], phantom.white_matter)
    print(f"strokeseg DWI preprocessing, {shape[2]}×{shape[1]}×{shape[0]} voxels at {spacing[2]:g}×{spacing[1]:g}×"
          f"{spacing[0]:g} mm, {len(files)} case(s), {arguments.threads} thread(s); "
          f"N4: {settings.n4_levels} levels × {settings.n4_iterations} iterations, shrink to "
          f"{settings.n4_shrink_spacing_mm:g} mm voxels ({PLANS_KEY} of the plans)")
    print(f"{'pipeline':32s} {'median s/case':>14s} {'min':>7s} {'max':>7s}")
    for name, values in timings.items():
        if values:
            print(f"{name:32s} {statistics.median(values):14.3f} {min(values):7.3f} {max(values):7.3f}")
    median = {name: statistics.median(values) for name, values in timings.items() if values}
    print(f"strokeseg / DefaultPreprocessor: {median['strokeseg'] / median['nnU-Net DefaultPreprocessor']:.1f}×; "
          f"target ≤ 1.5 s per case: {'met' if median['strokeseg'] <= 1.5 else 'NOT met'}")
    if "naive full-resolution N4" in median:
        ratio = median["naive full-resolution N4"] / median["strokeseg"]
        mask = skull_strip_mask(image, spacing)
        image_sitk = sitk.GetImageFromArray(np.where(mask, image, 0.0).astype(np.float32))
        image_sitk.SetSpacing(tuple(reversed(spacing)))
        mask_sitk = sitk.GetImageFromArray(mask.astype(np.uint8))
        mask_sitk.CopyInformation(image_sitk)
        corrector = sitk.N4BiasFieldCorrectionImageFilter()
        corrector.SetMaximumNumberOfIterations([settings.n4_iterations] * settings.n4_levels)
        naive_after = coefficient_of_variation(sitk.GetArrayFromImage(corrector.Execute(image_sitk, mask_sitk)),
                                               phantom.white_matter)
        print(f"naive / strokeseg: {ratio:.1f}× faster; target ≥ 10×: {'met' if ratio >= 10 else 'NOT met'}")
        print(f"white-matter CV under the phantom's bias field: {before:.4f} -> strokeseg {after:.4f} "
              f"({100 * (1 - after / before):.0f} % lower), naive {naive_after:.4f} "
              f"({100 * (1 - naive_after / before):.0f} % lower)")
    else:
        print(f"white-matter CV under the phantom's bias field: {before:.4f} -> strokeseg {after:.4f} "
              f"({100 * (1 - after / before):.0f} % lower)")


if __name__ == "__main__":
    main()
