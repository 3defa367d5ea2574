"""``strokeseg predict`` per case beside the chain of separate commands it replaces, measured in the same run.

The chain (what a user would type without ``strokeseg predict``), on the same NIfTI cases and the same model:
``strokeseg convert registry`` (the cases as test cases without masks, plus the one training case ``convert``
requires) -> ``nnUNetv2_predict_from_modelfolder --save_probabilities``
once per ensemble member -> ``strokeseg uncertainty`` -> ``strokeseg report`` (location atlas, QC PNGs).
``strokeseg predict INPUT OUT -m MODEL`` does all of it (and writes per-case JSON/CSV). Both run on the CPU; the
figure is the CPU time (user + system of the child processes) per case and the wall time, and their ratios.

The cases are copies of the real ISLES'22 DWI (a real head, so the location registration does its usual work). The
model is a two-member CPU-sized ensemble trained here on the toy dataset with the stock CLIs (``--model`` takes
another trained model folder whose only channel is DWI).

Run: ``.venv/bin/python benchmarks/bench_predict.py [--cases 3] [--model DIR] [--cache-dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from child_timing import timed_commands

from strokeseg.location.atlas import load_location_atlas
from strokeseg.nnunet.folders import NnunetPaths
from strokeseg.nnunet.runner import nnunet_executable, run_nnunet
from strokeseg.planners.fingerprint import StrokesegFingerprintExtractor
from strokeseg.synthetic.toy import write_toy_dataset

ISLES_DWI = (Path(__file__).resolve().parents[1] / "tests" / "data" / "isles22_sample" / "rawdata" /
             "sub-strokecase0009" / "ses-0001" / "sub-strokecase0009_ses-0001_dwi.nii.gz")
ISLES_MASK = (ISLES_DWI.parents[3] / "derivatives" / "sub-strokecase0009" / "ses-0001" /
              "sub-strokecase0009_ses-0001_msk.nii.gz")
TRAINER = "nnUNetTrainer_strokeseg_PreActResUNet_Tiny"
TOY_DATASET_ID = 985
#: One worker per nnU-Net pool on the 2-core machine, no compilation (the tests' setting).
NNUNET_ENV = {"nnUNet_n_proc_DA": "1", "nnUNet_compile": "false", "nnUNet_def_n_proc": "1"}


def train_toy_model(root: Path) -> Path:
    """A two-fold CPU-sized model on the toy dataset, trained with the stock CLIs; returns its model folder."""
    paths = NnunetPaths.under(root)
    paths.create()
    write_toy_dataset(paths.raw, TOY_DATASET_ID, "BenchPredict", num_training=6, num_test=0)
    log = root / "nnunet.log"
    run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(TOY_DATASET_ID), "-c", "3d_fullres", "-np", "1",
                                                "-npfp", "1", "-fpe", StrokesegFingerprintExtractor.__name__], paths,
               log, NNUNET_ENV)
    for fold in ("0", "1"):
        run_nnunet("nnUNetv2_train", [str(TOY_DATASET_ID), "3d_fullres", fold, "-tr", TRAINER, "-device", "cpu"],
                   paths, log, NNUNET_ENV)
    return paths.results / f"Dataset{TOY_DATASET_ID:03d}_BenchPredict" / f"{TRAINER}__nnUNetPlans__3d_fullres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None, help="trained model folder (default: train a toy one)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="location-atlas cache")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    try:
        model = args.model or train_toy_model(work / "model")
        folds = sorted(path.name.removeprefix("fold_") for path in model.glob("fold_*"))
        cases = work / "cases"
        cases.mkdir()
        rows = ["case_id,dwi,mask,site,vendor,field_strength_t,onset_to_imaging_h,split",
                f"train0,{ISLES_DWI},{ISLES_MASK},A,Siemens,3,2,train"]  # convert needs one training case
        for index in range(args.cases):  # the manifest (for convert) beside the folder predict reads
            shutil.copy(ISLES_DWI, cases / f"case{index}_0000.nii.gz")
            rows.append(f"case{index},cases/case{index}_0000.nii.gz,,A,Siemens,3,2,test")
        manifest = work / "manifest.csv"
        manifest.write_text("\n".join(rows) + "\n")
        env = {**os.environ, **NNUNET_ENV, **NnunetPaths.under(work / "chain").environment()}
        strokeseg = [sys.executable, "-m", "strokeseg"]
        cache = ["--cache-dir", str(args.cache_dir)] if args.cache_dir else []
        load_location_atlas(args.cache_dir)  # built once, outside both timings
        raw = work / "chain" / "nnUNet_raw"
        images = raw / "Dataset900_Bench" / "imagesTs"
        members = [work / "chain" / f"member_{fold}" for fold in folds]
        chain = [[*strokeseg, "convert", "registry", str(manifest), "-d", "900", "--name", "Bench",
                  "--raw", str(raw)]]
        chain += [[nnunet_executable("nnUNetv2_predict_from_modelfolder"), "-i", str(images), "-o", str(member),
                   "-m", str(model), "-f", fold, "--save_probabilities", "-device", "cpu", "-npp", "1", "-nps", "1"]
                  for fold, member in zip(folds, members, strict=True)]
        if len(members) > 1:
            chain.append([*strokeseg, "uncertainty", "--members", *map(str, members), "-o",
                          str(work / "chain" / "ensemble")])
        predictions = work / "chain" / "ensemble" if len(members) > 1 else members[0]
        chain.append([*strokeseg, "report", "-pred", str(predictions), "-i", str(images), "-o",
                      str(work / "chain" / "report"), *cache])
        predict = [[*strokeseg, "predict", str(cases), str(work / "predict"), "-m", str(model), "--device", "cpu",
                    *cache]]
        chain_wall, chain_cpu = timed_commands(chain, env)
        predict_wall, predict_cpu = timed_commands(predict, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.cases
    print(f"{n} case(s), ISLES'22 DWI {ISLES_DWI.name}, model {len(folds)} member(s) ({model.name})")
    print(f"separate commands (convert + {len(folds)}x nnUNetv2_predict_from_modelfolder + uncertainty + report): "
          f"{chain_cpu / n:.1f} s CPU/case, {chain_wall / n:.1f} s wall/case")
    print(f"strokeseg predict: {predict_cpu / n:.1f} s CPU/case, {predict_wall / n:.1f} s wall/case")
    print(f"ratio predict / separate commands: CPU {predict_cpu / chain_cpu:.2f}, wall {predict_wall / chain_wall:.2f}")


if __name__ == "__main__":
    main()
