"""Alis et al.'s inter-vendor DWI+ADC study as published: acute-infarct segmentation, Siemens vs GE.

The residual 2D ConvLSTM U-Net (``nnUNetTrainer_strokeseg_Alis2022``: a stack of a patient's slices, bidirectional
ConvLSTMs after every encoder stage, Tversky loss alpha = beta = 0.5, Adam at a constant 1e-5 for 100 epochs, the
epoch with the best validation Dice, on-the-fly cropping, rotation, flipping and elastic deformation) on
``AlisVendorPlanner``'s preprocessing (high-b DWI and ADC as two channels, every slice resampled to 224 x 224, each
channel windowed per site onto 0-1). Each vendor's cases are split 80/10/10; each vendor's model is fine-tuned on
the other vendor's validation part for 20 epochs at 1e-6 (``nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6``).
``docs/papers/alis_vendor_dwi_adc.md`` holds the fidelity table.
"""

from __future__ import annotations

from strokeseg.defaults import ALIS_VENDOR_CASES, VENDOR_SPLIT_FRACTIONS
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_DWI
from strokeseg.nnunet.plans import ALIS_PLANS_NAME
from strokeseg.papers.preset import Preset

#: The channels the paper's models take, in order: high-b DWI and the ADC map.
CHANNELS: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_ADC)
#: The cases.csv column the cohort is split by, and its two groups in the paper's order (dataset A, dataset B).
VENDOR_COLUMN = "vendor"
VENDORS: tuple[str, ...] = tuple(vendor for vendor, _ in ALIS_VENDOR_CASES)

PRESET = Preset(
    key="alis_vendor_dwi_adc",
    title="Alis et al., inter-vendor performance of deep learning in segmenting acute ischemic lesions on DWI: a "
          "multicenter study (Sci Rep 2021; residual ConvLSTM U-Net on DWI + ADC, Siemens vs GE, fine-tuning)",
    planner="AlisVendorPlanner",
    plans=ALIS_PLANS_NAME,
    configuration="3d_fullres",
    trainer="nnUNetTrainer_strokeseg_Alis2022",
    cpu_trainer="nnUNetTrainer_strokeseg_Alis2022_CPU",
    finetune_trainer="nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6",
    cpu_finetune_trainer="nnUNetTrainer_strokeseg_Alis2022_FT1ep_lr1e6_CPU",
    variants={"nnunet_flavoured": "nnUNetTrainer_strokeseg_BiConvLSTMUNet",
              "nnunet_flavoured_finetune": "nnUNetTrainer_strokeseg_BiConvLSTMUNet_FT20ep_lr1e4"},
    split_design="vendor",
    split_options={"column": VENDOR_COLUMN, "fractions": VENDOR_SPLIT_FRACTIONS,
                   "cases": dict(ALIS_VENDOR_CASES), "channels": CHANNELS},
    experiment={
        "kind": "vendor-transfer",
        "planner": "AlisVendorPlanner",
        "configuration": "3d_fullres",
        "trainer": "nnUNetTrainer_strokeseg_Alis2022",
        "finetune_trainer": "nnUNetTrainer_strokeseg_Alis2022_FT20ep_lr1e6",
        "vendors": [{"group": VENDORS[0], "derived_id": 921}, {"group": VENDORS[1], "derived_id": 923}],
        "split": {"column": VENDOR_COLUMN, "vendor_fractions": list(VENDOR_SPLIT_FRACTIONS)},
    },
)
