"""Does the shifted sites' domain shift survive the registry preprocessing? (a check, not a speed benchmark)

For every case of a registry cohort written by ``strokeseg synth --layout registry --site-set shifted``, runs
``strokeseg preprocess --channels DWI ADC`` (skull strip, N4, histogram-peak normalisation of the DWI) and
measures, per site (median over its cases):

    cnr_raw     lesion-to-tissue contrast-to-noise on the stored DWI: (mean lesion − mean tissue) / SD tissue,
                tissue = the brain 2-4 voxels around the lesion in-plane;
    cnr_norm    the same on the normalised DWI (what the network sees);
    ratio_norm  mean lesion / mean tissue on the normalised DWI;
    radc        median ADC of the lesion / median ADC of that tissue (stored ADC inside the brain mask);
    brain_adc   median ADC of the brain outside the lesion (10^-6 mm²/s).

Run: ``.venv/bin/python benchmarks/check_site_shift.py COHORT WORK [--cases-per-site 20]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from strokeseg.io import read_array

STROKESEG = [sys.executable, "-m", "strokeseg"]
IN_PLANE = np.ones((1, 3, 3), bool)


def _preprocess(cohort: Path, row: pd.Series, out: Path) -> Path:
    folder = out / row.case_id
    if not (folder / "normalized_0000.nii.gz").is_file():
        subprocess.run([*STROKESEG, "-q", "preprocess", "--channels", "DWI", "ADC", "-i", str(cohort / row.dwi),
                        str(cohort / row.adc), "-o", str(folder), "--overwrite"], check=True)
    return folder


def _shell(lesion: np.ndarray, brain: np.ndarray) -> np.ndarray:
    return ndimage.binary_dilation(lesion, IN_PLANE, iterations=4) & ~ndimage.binary_dilation(lesion, IN_PLANE) & brain


def _cnr(image: np.ndarray, lesion: np.ndarray, tissue: np.ndarray) -> float:
    return float((image[lesion].mean() - image[tissue].mean()) / image[tissue].std())


def measure(cohort: Path, row: pd.Series, folder: Path) -> dict[str, float]:
    """The measures of the module docstring for one case."""
    lesion = read_array(cohort / row["mask"])[0] > 0
    brain = read_array(folder / "brain_mask.nii.gz")[0] > 0
    raw = read_array(cohort / row.dwi)[0].astype(np.float64)
    normalized = read_array(folder / "normalized_0000.nii.gz")[0].astype(np.float64)
    adc = read_array(cohort / row.adc)[0].astype(np.float64)  # preprocessing only masks the ADC
    tissue = _shell(lesion, brain)
    tissue_adc = tissue & (adc > 300) & (adc < 1300)
    lesion = lesion & brain
    return {"cnr_raw": _cnr(raw, lesion, tissue), "cnr_norm": _cnr(normalized, lesion, tissue),
            "ratio_norm": float(normalized[lesion].mean() / normalized[tissue].mean()),
            "radc": float(np.median(adc[lesion]) / np.median(adc[tissue_adc])),
            "brain_adc": float(np.median(adc[brain & ~lesion & (adc > 300) & (adc < 1300)]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort", type=Path, help="registry cohort folder (manifest.csv)")
    parser.add_argument("work", type=Path, help="folder for the preprocessing outputs")
    parser.add_argument("--cases-per-site", type=int, default=20)
    args = parser.parse_args()
    manifest = pd.read_csv(args.cohort / "manifest.csv", dtype=str, keep_default_na=False)
    rows: list[dict[str, object]] = []
    chosen = manifest.groupby("site", sort=False).head(args.cases_per_site)  # manifest order: sites interleaved
    for _, row in chosen.iterrows():
        folder = _preprocess(args.cohort, row, args.work)
        rows.append({"site": row.site, "vendor": row.vendor, **measure(args.cohort, row, folder)})
        print(row.case_id, rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby(["site", "vendor"]).median().round(3)
    summary.insert(0, "n", table.groupby(["site", "vendor"]).size())
    print(summary.to_string())


if __name__ == "__main__":
    main()
