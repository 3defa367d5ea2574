"""Location speed: affine registration per case (target <= 15 s on 2 cores) and phantom generation per case.

Peers measured in the same run:
    registration  a single-resolution affine registration at the template's full 2 mm resolution (what the
                  multi-resolution schedule replaces); strokeseg's s/case is printed as a ratio to it.
    generation    resampling the template maps onto the same grids without any pathology, noise or writing
                  (the floor of phantom generation); printed as a ratio.
    threads       the default registration (one thread, bit-identical results) beside the same registration on
                  all cores (what SimpleITK would use): the speed cost of determinism, and how many distinct
                  transforms two runs of each case give.

Run: ``.venv/bin/python benchmarks/bench_location.py [--cases 8] [--cache-dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from strokeseg.location.lookup import load_location_atlas, locate_case
from strokeseg.location.registration import RegistrationSettings, register_affine
from strokeseg.synthetic.anatomy import load_phantom_template, sample_subject, subject_transform
from strokeseg.synthetic.phantom import _grid_for, case_rng, make_phantom, sample_plan
from strokeseg.synthetic.sites import DWI_SITES

TARGET_REGISTRATION_S = 15.0
TARGET_GENERATION_S = 1.0
ISLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "isles22_sample"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    atlas = load_location_atlas(args.cache_dir)
    template = load_phantom_template(args.cache_dir)

    generation, floor, cases = [], [], []
    for index in range(args.cases):
        site = DWI_SITES[index % len(DWI_SITES)]
        start = time.perf_counter()
        cases.append(make_phantom(index, 77, site, "acute", template=template))
        generation.append(time.perf_counter() - start)
        rng = case_rng(77, index)
        plan = sample_plan(rng, site, "acute")
        start = time.perf_counter()
        grid = _grid_for(plan, plan.in_plane_mm, plan.slice_mm, rng)
        sample_subject(template, grid, subject_transform(rng, template))
        floor.append(time.perf_counter() - start)

    ours, peer, correct = [], [], 0
    single_level = RegistrationSettings(shrink_factors=(1,), iterations=300)
    for case in cases:
        start = time.perf_counter()
        result = locate_case(case.images["dwi"], case.label, atlas=atlas)
        ours.append(time.perf_counter() - start)
        correct += result.label == case.metadata["location"]
        start = time.perf_counter()
        register_affine(case.images["dwi"], atlas.template, atlas.brain_mask, single_level)
        peer.append(time.perf_counter() - start)
    one_thread, all_cores, distinct = [], [], {"one thread": 0, "all cores": 0}
    many = RegistrationSettings(threads=os.cpu_count() or 1)
    for case in cases:
        variants = ((RegistrationSettings(), one_thread, "one thread"), (many, all_cores, "all cores"))
        for settings, times, name in variants:
            runs = []
            for _ in range(2):
                start = time.perf_counter()
                runs.append(register_affine(case.images["dwi"], atlas.template, atlas.brain_mask, settings))
                times.append(time.perf_counter() - start)
            distinct[name] += runs[0].template_to_case.GetParameters() != runs[1].template_to_case.GetParameters()
    isles_dwi = ISLES / "rawdata/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_dwi.nii.gz"
    isles_mask = ISLES / "derivatives/sub-strokecase0009/ses-0001/sub-strokecase0009_ses-0001_msk.nii.gz"
    start = time.perf_counter()
    isles = locate_case(isles_dwi, isles_mask, atlas=atlas)
    isles_s = time.perf_counter() - start

    print(f"phantom generation (DWI resolution): {np.mean(generation):.2f} s/case (median {np.median(generation):.2f}, "
          f"target ~{TARGET_GENERATION_S:.0f} s); template resampling alone: {np.mean(floor):.2f} s/case; "
          f"ratio {np.mean(generation) / np.mean(floor):.2f}x")
    print(f"location (registration + atlas lookup): {np.mean(ours):.2f} s/case (max {np.max(ours):.2f}, target "
          f"<= {TARGET_REGISTRATION_S:.0f} s); single-level 2 mm peer: {np.mean(peer):.2f} s/case; ratio "
          f"{np.mean(ours) / np.mean(peer):.2f}x; phantom classes recovered {correct}/{len(cases)}")
    print(f"registration on one thread (default): {np.median(one_thread):.2f} s (median of {len(one_thread)}); on "
          f"{many.threads} threads: {np.median(all_cores):.2f} s; "
          f"ratio {np.median(one_thread) / np.median(all_cores):.2f}x; "
          f"cases whose two runs differ: one thread {distinct['one thread']}/{len(cases)}, "
          f"{many.threads} threads {distinct['all cores']}/{len(cases)}")
    print(f"ISLES'22 sample: {isles_s:.2f} s, location {isles.label}, QC {isles.registration_qc:.3f}")


if __name__ == "__main__":
    main()
