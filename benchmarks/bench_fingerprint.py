"""Time of ``nnUNetv2_extract_fingerprint``: nnU-Net's ``DatasetFingerprintExtractor`` (10^8 intensity samples per
channel) against strokeseg's ``StrokesegFingerprintExtractor`` (10^6), on the same phantom datasets.

For each dataset size (DWI + ADC phantom heads of the demo's native grid, 256 x 256 x 30 at 0.9 x 0.9 x 5 mm),
the stock CLI runs with each extractor (``--clean``, one worker process, alternating, best of ``--repeats``);
printed: wall-clock and CPU seconds (the tool and its workers), the ratio stock / strokeseg, and the largest
difference of the fingerprints' intensity statistics (mean, std, median, 0.5 and 99.5 percentiles) as a share of
the stock 0.5-99.5 percentile window. Usage::

    .venv/bin/python benchmarks/bench_fingerprint.py                 # 2 and 20 cases, best of 2
    .venv/bin/python benchmarks/bench_fingerprint.py --cases 2 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from child_timing import children_cpu_s

from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.raw import dataset_folder_name
from strokeseg.nnunet.runner import run_nnunet
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.analytic_head import write_phantom_dataset

STOCK = "DatasetFingerprintExtractor"
OURS = StrokesegFingerprintExtractor.__name__
SHAPE_ZYX = (30, 256, 256)
SPACING_ZYX = (5.0, 0.9, 0.9)
STATISTICS = ("mean", "std", "median", "percentile_00_5", "percentile_99_5")


def extract(paths: NnunetPaths, dataset_id: int, extractor: str, log: Path) -> tuple[float, float, dict]:
    """(wall s, CPU s, fingerprint) of one ``nnUNetv2_extract_fingerprint --clean`` run."""
    cpu, start = children_cpu_s(), time.perf_counter()
    run_nnunet("nnUNetv2_extract_fingerprint", ["-d", str(dataset_id), "-np", "1", "--clean", "-fpe", extractor],
               paths, log, {"OMP_NUM_THREADS": "1"})
    wall, cpu = time.perf_counter() - start, children_cpu_s() - cpu
    name = dataset_folder_name(dataset_id, f"Fingerprint{dataset_id}")
    return wall, cpu, json.loads((paths.preprocessed / name / "dataset_fingerprint.json").read_text())


def largest_difference(stock: dict, ours: dict) -> float:
    """Largest |ours - stock| of the intensity statistics over every channel, per unit of stock's window."""
    worst = 0.0
    for channel, reference in stock["foreground_intensity_properties_per_channel"].items():
        window = reference["percentile_99_5"] - reference["percentile_00_5"]
        candidate = ours["foreground_intensity_properties_per_channel"][channel]
        worst = max(worst, *(abs(candidate[key] - reference[key]) / window for key in STATISTICS))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[2, 20], help="dataset sizes (default: 2 20)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per extractor; the best is kept")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"nnUNetv2_extract_fingerprint, one worker, DWI + ADC phantoms {SHAPE_ZYX} (z, y, x); "
          f"load average {load:.1f} at start")
    print(f"{'cases':>5}  {'stock s':>8} {'CPU s':>7}  {'strokeseg s':>11} {'CPU s':>7}  {'stock/strokeseg':>15}  "
          "largest statistic difference (share of window)")
    with tempfile.TemporaryDirectory(prefix="bench_fingerprint_") as temp:
        paths = NnunetPaths.under(Path(temp))
        paths.create()
        log = Path(temp) / "nnunet.log"
        for index, cases in enumerate(args.cases):
            dataset_id = 960 + index
            write_phantom_dataset(paths.raw, dataset_id, f"Fingerprint{dataset_id}", channels=("DWI", "ADC"),
                                  num_training=cases, num_test=0, shape=SHAPE_ZYX, spacing=SPACING_ZYX)
            runs: dict[str, list[tuple[float, float, dict]]] = {STOCK: [], OURS: []}
            for _ in range(args.repeats):
                for extractor in (STOCK, OURS):
                    runs[extractor].append(extract(paths, dataset_id, extractor, log))
            stock, ours = (min(runs[name], key=lambda run: run[0]) for name in (STOCK, OURS))
            print(f"{cases:>5}  {stock[0]:>8.2f} {stock[1]:>7.2f}  {ours[0]:>11.2f} {ours[1]:>7.2f}  "
                  f"{stock[0] / ours[0]:>15.2f}  {largest_difference(stock[2], ours[2]):.2e}")


if __name__ == "__main__":
    main()
