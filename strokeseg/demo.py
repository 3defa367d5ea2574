"""``strokeseg demo``: the end-to-end path on a built-in synthetic dataset.

Generates a toy dataset, then runs the stock nnU-Net tools with strokeseg's planner and CPU-sized trainer:
``nnUNetv2_plan_and_preprocess -pl StrokeDWIPlanner``, ``nnUNetv2_train -tr nnUNetTrainer_strokeseg_Tiny``
and ``nnUNetv2_predict``. Finished stages are skipped on a rerun; ``--overwrite`` starts over.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

from strokeseg.errors import OutputExistsError
from strokeseg.nnunet_runner import NnunetPaths, run_nnunet
from strokeseg.planners.dwi import DWI_PLANS_NAME
from strokeseg.synthetic.toy import write_toy_dataset

logger = logging.getLogger(__name__)

DEMO_DATASET_ID = 501
DEMO_DATASET_NAME = "StrokesegToy"
DEMO_TRAINER = "nnUNetTrainer_strokeseg_Tiny"


def run_demo(out: Path, device: str = "cpu", overwrite: bool = False) -> Path:
    """Run the demo into ``out``; returns the folder of test-set predictions."""
    if overwrite and out.exists():
        shutil.rmtree(out)
    paths = NnunetPaths.under(out)
    paths.create()
    log = out / "logs" / "nnunet.log"
    dataset = f"Dataset{DEMO_DATASET_ID:03d}_{DEMO_DATASET_NAME}"
    raw = paths.raw / dataset
    # one augmentation worker per CPU run: nnU-Net defaults to 12, far more than a laptop has cores
    env = {"nnUNet_n_proc_DA": "1"} if device == "cpu" else {}
    if not (raw / "dataset.json").is_file():
        logger.info("[1/4] writing the synthetic dataset to %s", raw)
        try:
            write_toy_dataset(paths.raw, DEMO_DATASET_ID, DEMO_DATASET_NAME, num_training=10, num_test=3)
        except OutputExistsError:
            raise OutputExistsError(f"{raw} exists but is incomplete; rerun with --overwrite") from None
    plans = paths.preprocessed / dataset / f"{DWI_PLANS_NAME}.json"
    if not plans.is_file():
        logger.info("[2/4] nnUNetv2_plan_and_preprocess -pl StrokeDWIPlanner (log: %s)", log)
        run_nnunet("nnUNetv2_plan_and_preprocess", ["-d", str(DEMO_DATASET_ID), "-pl", "StrokeDWIPlanner",
                                                    "-c", "3d_fullres", "-np", "2", "--verify_dataset_integrity"],
                   paths, log, env)
    model = paths.results / dataset / f"{DEMO_TRAINER}__{DWI_PLANS_NAME}__3d_fullres"
    if not (model / "fold_0" / "checkpoint_final.pth").is_file():
        logger.info("[3/4] nnUNetv2_train %s 3d_fullres 0 -tr %s (log: %s)", DEMO_DATASET_ID, DEMO_TRAINER, log)
        run_nnunet("nnUNetv2_train", [str(DEMO_DATASET_ID), "3d_fullres", "0", "-tr", DEMO_TRAINER,
                                      "-p", DWI_PLANS_NAME, "-device", device], paths, log, env)
    predictions = out / "predictions_test"
    if not (predictions / "plans.json").is_file():
        logger.info("[4/4] nnUNetv2_predict on imagesTs (log: %s)", log)
        run_nnunet("nnUNetv2_predict", ["-i", str(raw / "imagesTs"), "-o", str(predictions),
                                        "-d", str(DEMO_DATASET_ID), "-c", "3d_fullres", "-f", "0",
                                        "-tr", DEMO_TRAINER, "-p", DWI_PLANS_NAME, "-device", device,
                                        "--disable_tta", "-npp", "1", "-nps", "1"], paths, log, env)
    return predictions


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg demo`` to the CLI."""
    parser = subparsers.add_parser("demo", help="run the end-to-end pipeline on a built-in synthetic dataset",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: %(default)s)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="device for training and prediction (default: cuda when available, else cpu)")
    parser.add_argument("--overwrite", action="store_true", help="delete --out and start over")
    parser.set_defaults(func=_cli_demo)


def _cli_demo(args: argparse.Namespace) -> int:
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    predictions = run_demo(args.out, device, args.overwrite)
    files = sorted(p.name for p in predictions.glob("*.nii.gz"))
    print(f"demo finished: {len(files)} predicted test case(s) in {predictions}")
    return 0
