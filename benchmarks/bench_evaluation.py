"""Speed of strokeseg's evaluation engines against MONAI, DeepMind surface-distance, MedPy and seg-metrics.

Measures, in one run and on the same lesion-like mask pairs (``strokeseg.synthetic.lesion_pairs``: a few blobs
of varying size, prediction = perturbed reference), the time per case of every per-case metric (file reading
excluded) on two grids:

* DWI: 256×256×30 voxels at 0.9×0.9×5 mm;
* ATLAS/MNI: 197×233×189 voxels at 1 mm.

strokeseg computes *all* its per-case metrics (overlap, volumes, hd, hd95, assd, nsd@1 mm, lesion-wise
TP/FP/FN, F1 and counts); each peer computes the subset it offers (Dice, hd, hd95, assd and, where
available, nsd) through its public API, as a user would — peers have no lesion-wise metrics, which favours
them. Everything runs on one thread (``OMP_NUM_THREADS=1`` etc., ``torch.set_num_threads(1)``). Printed:
seconds per case (median over cases of the best of ``--repeats`` runs; a peer slower than 5 s per case is
timed on one case only), the ratio fastest peer / strokeseg, the DWI-grid time against the 50 ms target,
the ``-j`` scaling of whole-file evaluation (reading included; it needs idle cores), and, when a CUDA GPU
is visible, the CUDA engine against the CPU engine.

Run: ``.venv/bin/python benchmarks/bench_evaluation.py [--cases 5] [--peers monai deepmind medpy seg-metrics]``
(peers: ``pip install -e .[bench]``).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                  "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402  (thread limits must be set before numpy is imported)
import functools  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from strokeseg.evaluation.case_metrics import evaluate_pair  # noqa: E402
from strokeseg.evaluation.engines import CpuEngine  # noqa: E402
from strokeseg.evaluation.worker import CaseTask, EvaluationSettings, evaluate_case_files  # noqa: E402
from strokeseg.parallel import run_parallel  # noqa: E402
from strokeseg.synthetic.lesion_pairs import lesion_pair  # noqa: E402

Pair = tuple[np.ndarray, np.ndarray, tuple[float, float, float]]
GRIDS: dict[str, tuple[tuple[int, int, int], tuple[float, float, float]]] = {
    "DWI 256x256x30 @ 0.9x0.9x5 mm": ((30, 256, 256), (5.0, 0.9, 0.9)),
    "MNI 197x233x189 @ 1 mm": ((189, 233, 197), (1.0, 1.0, 1.0)),
}
DWI_TARGET_S = 0.050
PEER_SPEEDUP_TARGET = 10.0
NSD_TOLERANCE_MM = 1.0


def make_pairs(shape: tuple[int, int, int], spacing: tuple[float, float, float], count: int, seed: int) -> list[Pair]:
    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < count:
        reference, prediction = lesion_pair(shape, spacing, rng)
        if reference.any() and prediction.any():
            pairs.append((reference, prediction, spacing))
    return pairs


def seconds_per_case(function: Callable[[np.ndarray, np.ndarray, tuple[float, float, float]], object],
                     pairs: list[Pair], repeats: int = 1, slow_s: float = 5.0) -> tuple[float, int]:
    """(median over cases of the best of ``repeats`` runs, number of cases timed).

    The first case is run once as a warm-up; a function slower than ``slow_s`` there is timed on that one
    run only (seg-metrics takes minutes per case).
    """
    started = time.perf_counter()
    function(*pairs[0])
    warm_up = time.perf_counter() - started
    if warm_up > slow_s:
        return warm_up, 1
    times = []
    for pair in pairs:
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            function(*pair)
            best = min(best, time.perf_counter() - started)
        times.append(best)
    return statistics.median(times), len(pairs)


def strokeseg_cpu(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
    return evaluate_pair(reference, prediction, spacing, engine=CpuEngine(), nsd_tolerance_mm=NSD_TOLERANCE_MM)


def monai_metrics() -> Callable[..., object]:
    import torch
    from monai.metrics import (
        compute_average_surface_distance,
        compute_dice,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    torch.set_num_threads(1)

    def run(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
        ref = torch.from_numpy(reference[None, None].astype(np.float32))
        pred = torch.from_numpy(prediction[None, None].astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return (compute_dice(pred, ref), compute_hausdorff_distance(pred, ref, spacing=spacing),
                    compute_hausdorff_distance(pred, ref, percentile=95, spacing=spacing),
                    compute_average_surface_distance(pred, ref, symmetric=True, spacing=spacing),
                    compute_surface_dice(pred, ref, [NSD_TOLERANCE_MM], include_background=True, spacing=spacing))

    return run


def deepmind_metrics() -> Callable[..., object]:
    import surface_distance

    def run(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
        distances = surface_distance.compute_surface_distances(reference, prediction, spacing)
        return (surface_distance.compute_dice_coefficient(reference, prediction),
                surface_distance.compute_robust_hausdorff(distances, 100),
                surface_distance.compute_robust_hausdorff(distances, 95),
                surface_distance.compute_average_surface_distance(distances),
                surface_distance.compute_surface_dice_at_tolerance(distances, NSD_TOLERANCE_MM))

    return run


def medpy_metrics() -> Callable[..., object]:
    from medpy.metric import binary

    def run(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
        return (binary.dc(prediction, reference), binary.hd(prediction, reference, spacing),
                binary.hd95(prediction, reference, spacing), binary.assd(prediction, reference, spacing))

    return run


def seg_metrics_metrics() -> Callable[..., object]:
    from seg_metrics import seg_metrics

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)

    def run(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
        return seg_metrics.write_metrics(labels=[1], gdth_img=reference.astype(np.uint8),
                                         pred_img=prediction.astype(np.uint8), spacing=spacing,
                                         metrics=["dice", "hd", "hd95", "msd"], verbose=False)

    return run


PEERS: dict[str, Callable[[], Callable[..., object]]] = {
    "monai": monai_metrics, "deepmind": deepmind_metrics, "medpy": medpy_metrics, "seg-metrics": seg_metrics_metrics,
}
#: seg-metrics is orders of magnitude slower than the other peers (minutes per case), never the fastest.
DEFAULT_PEERS = ["monai", "deepmind", "medpy"]


def peer_times(names: list[str], pairs: list[Pair], repeats: int) -> dict[str, float]:
    times = {}
    for name in names:
        try:
            function = PEERS[name]()
        except ImportError as error:
            print(f"    {name:<12} not installed ({error.name}); pip install -e .[bench]")
            continue
        times[name], timed = seconds_per_case(function, pairs, repeats)
        runs = f"best of {repeats}" if timed > 1 else "one run"
        print(f"    {name:<12} {times[name] * 1000:9.1f} ms/case ({timed} case(s), {runs})", flush=True)
    return times


def scaling(pairs: list[Pair], jobs: int) -> None:
    """Whole-file evaluation (reading included) with 1 and ``jobs`` worker processes.

    Near-linear scaling needs ``jobs`` idle cores: on a machine shared with other work the ratio shows the
    contention, not the engine.
    """
    with tempfile.TemporaryDirectory() as folder:
        tasks = []
        for index, (reference, prediction, spacing) in enumerate(pairs):
            paths = []
            for kind, mask in (("ref", reference), ("pred", prediction)):
                image = sitk.GetImageFromArray(mask.astype(np.uint8))
                image.SetSpacing(tuple(reversed(spacing)))
                path = Path(folder) / f"{kind}_{index}.nii.gz"
                sitk.WriteImage(image, str(path), True)
                paths.append(path)
            tasks.append(CaseTask("bench", f"case_{index}", paths[0], paths[1]))
        del pairs[:]  # keep the forked workers small
        function = functools.partial(evaluate_case_files, settings=EvaluationSettings(device="cpu"))
        timings = {}
        for workers in (1, jobs):
            started = time.perf_counter()
            run_parallel(function, tasks, workers)
            timings[workers] = time.perf_counter() - started
        speedup = timings[1] / timings[jobs]
        print(f"-j scaling, {len(tasks)} MNI-grid cases read from .nii.gz: -j 1 {timings[1]:.2f} s, -j {jobs} "
              f"{timings[jobs]:.2f} s -> speed-up {speedup:.2f}x ({speedup / jobs:.0%} of linear; "
              f"{os.cpu_count()} CPU(s) on this machine, process start-up included)")


def cuda_comparison(pairs_by_grid: dict[str, list[Pair]], device: str = "cuda", repeats: int = 3) -> None:
    """The torch engine on ``device`` (``cuda``; ``cpu`` in the GPU check's dry run) against the CPU engine."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print("CUDA engine: no CUDA GPU visible; skipped")
        return
    from strokeseg.evaluation.torch_engine import TorchEngine

    engine = TorchEngine(device)

    def torch_run(reference: np.ndarray, prediction: np.ndarray, spacing: tuple[float, float, float]) -> object:
        result = evaluate_pair(reference, prediction, spacing, engine=engine, nsd_tolerance_mm=NSD_TOLERANCE_MM)
        if device == "cuda":
            torch.cuda.synchronize()
        return result

    where = torch.cuda.get_device_name() if device == "cuda" else "the CPU (dry run)"
    print(f"torch engine on {where} (host->device copies included) against the CPU engine:")
    for grid, pairs in pairs_by_grid.items():
        cpu, _ = seconds_per_case(strokeseg_cpu, pairs, repeats=repeats)
        gpu, _ = seconds_per_case(torch_run, pairs, repeats=repeats)
        verdict = f"torch:{device} {cpu / gpu:.2f}x faster" if gpu < cpu else f"torch:{device} {gpu / cpu:.2f}x SLOWER"
        print(f"  {grid}: CPU engine {cpu * 1000:.1f} ms, torch:{device} engine {gpu * 1000:.1f} ms -> {verdict}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5, help="mask pairs per grid (default: %(default)s)")
    parser.add_argument("--peers", nargs="*", default=DEFAULT_PEERS, choices=list(PEERS),
                        help="peers to time (default: %(default)s; seg-metrics took 80-360 s per case here and is "
                             "timed only when named)")
    parser.add_argument("-j", "--workers", type=int, default=2,
                        help="worker processes of the scaling test (default: %(default)s)")
    parser.add_argument("--scaling-cases", type=int, default=16, help="MNI-grid cases of the scaling test")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case, the best counts (default: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines-only", action="store_true",
                        help="only the torch engine against the CPU engine (no peers, no scaling): the GPU check")
    parser.add_argument("--torch-device", choices=("cuda", "cpu"), default="cuda",
                        help="device of the torch engine in that comparison (cpu: the GPU check's dry run)")
    args = parser.parse_args()

    if args.engines_only:
        cuda_comparison({grid: make_pairs(shape, spacing, args.cases, args.seed)
                         for grid, (shape, spacing) in GRIDS.items()}, args.torch_device, args.repeats)
        return

    # the scaling test runs first, while this process is small: worker processes are forked from it
    mni_shape, mni_spacing = GRIDS["MNI 197x233x189 @ 1 mm"]
    scaling(make_pairs(mni_shape, mni_spacing, args.scaling_cases, args.seed + 1), args.workers)
    pairs_by_grid = {grid: make_pairs(shape, spacing, args.cases, args.seed)
                     for grid, (shape, spacing) in GRIDS.items()}
    for grid, pairs in pairs_by_grid.items():
        volumes = [float(r.sum() * np.prod(s)) / 1000 for r, _, s in pairs]
        print(f"{grid}: {len(pairs)} cases, reference volumes {min(volumes):.1f}-{max(volumes):.1f} mL", flush=True)
        ours, timed = seconds_per_case(strokeseg_cpu, pairs, args.repeats)
        print(f"    {'strokeseg':<12} {ours * 1000:9.1f} ms/case ({timed} case(s), best of {args.repeats}; CPU engine, "
              "all metrics incl. lesion-wise)", flush=True)
        peers = peer_times(args.peers, pairs, args.repeats)
        if peers:
            fastest = min(peers, key=peers.__getitem__)
            ratio = peers[fastest] / ours
            verdict = "meets" if ratio >= PEER_SPEEDUP_TARGET else "MISSES"
            print(f"  ratio fastest peer ({fastest}) / strokeseg = {ratio:.1f}x ({verdict} the "
                  f"≥{PEER_SPEEDUP_TARGET:g}x target)")
        if grid.startswith("DWI"):
            verdict = "meets" if ours <= DWI_TARGET_S else "MISSES"
            print(f"  DWI grid: {ours * 1000:.1f} ms/case on one core ({verdict} the ≤{DWI_TARGET_S * 1000:g} ms "
                  "target)")
    cuda_comparison(pairs_by_grid, args.torch_device, args.repeats)


if __name__ == "__main__":
    main()
