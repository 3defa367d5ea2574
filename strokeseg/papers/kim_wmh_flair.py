"""Kim et al.'s FLAIR white-matter-hyperintensity study as published (preset ``kim_wmh_flair``).

A 2D U-Net and a 2D SE-U-Net (3 resolution steps of three 3x3 convolutions with batch norm and ReLU, 2x2 max
pooling, 2x2 transposed convolutions, skip connections, squeeze-and-excitation after the down path's steps only, a
final layer on 32 features) trained with soft Dice, Adam at 1e-3 with time-based decay 1e-3 / 300, 50 epochs of
batch 8, no augmentation, on slices resized to 256 x 256 by 2D B-spline interpolation and normalized slice-wise
(0-255, 32-bin histogram peak -> 150, brain mask > 30 with holes filled, z-score inside the mask); a 5-member deep
ensemble, each member on its own 90 % of the training set with its own initialization, soft voting (mean
probability) and the KL uncertainty index (prior 0.5, divergence threshold 0.5); a learning curve at 100 ... 2,408
training images and a 60/20/20 split of the 2,408-image development cohort. ``docs/papers/kim_wmh_flair.md`` holds
the fidelity table.
"""

from __future__ import annotations

from strokeseg.defaults import (
    ENSEMBLE_MEMBERS,
    ENSEMBLE_SUBSET_FRACTION,
    KIM_LEARNING_CURVE_SIZES,
    KIM_SPLIT_PERCENT,
    KIM_TRAINING_IMAGES,
    UNCERTAINTY_DIVERGENCE_THRESHOLD,
    UNCERTAINTY_PRIOR,
)
from strokeseg.modalities import CHANNEL_FLAIR
from strokeseg.nnunet.plans import KIM_PLANS_NAME
from strokeseg.papers.preset import Preset

#: The channels the paper's models take.
CHANNELS: tuple[str, ...] = (CHANNEL_FLAIR,)
#: Training share inside each learning-curve subsample: the 60/20 training/validation ratio of the paper's split.
LEARNING_CURVE_TRAIN_FRACTION = KIM_SPLIT_PERCENT[0] / (KIM_SPLIT_PERCENT[0] + KIM_SPLIT_PERCENT[1])

PRESET = Preset(
    key="kim_wmh_flair",
    title=("Kim H, Ryu WS, Schellingerhout D, et al. Automated segmentation of MRI white matter hyperintensities in "
           "8421 patients with acute ischemic stroke. AJNR Am J Neuroradiol 45(12):1885-1894, 2024."),
    planner="KimWMHPlanner",
    plans=KIM_PLANS_NAME,
    configuration="2d",
    trainer="nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble",
    cpu_trainer="nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble_Tiny",
    variants={
        "unet_ensemble": "nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble",
        "unet_ensemble_cpu": "nnUNetTrainer_strokeseg_Kim2024UNet_Ensemble_Tiny",
        "se_unet_single": "nnUNetTrainer_strokeseg_Kim2024SEUNet",
        "unet_single": "nnUNetTrainer_strokeseg_Kim2024UNet",
        # nnU-Net's flavour: SE after every stage of the plans' U-Net (instance norm, leaky ReLU, deep supervision),
        # nnU-Net's SGD schedule and augmentation
        "nnunet_flavoured": "nnUNetTrainer_strokeseg_SEUNet_Ensemble",
    },
    split_design="ensemble",
    split_options={"members": ENSEMBLE_MEMBERS, "subset_fraction": ENSEMBLE_SUBSET_FRACTION,
                   "n_training_images": KIM_TRAINING_IMAGES, "split_percent": KIM_SPLIT_PERCENT,
                   "learning_curve_sizes": KIM_LEARNING_CURVE_SIZES,
                   "learning_curve_train_fraction": LEARNING_CURVE_TRAIN_FRACTION, "channels": CHANNELS,
                   "uncertainty_prior": UNCERTAINTY_PRIOR,
                   "uncertainty_divergence_threshold": UNCERTAINTY_DIVERGENCE_THRESHOLD},
    experiment={
        "kind": "ensemble",
        "planner": "KimWMHPlanner",
        "configuration": "2d",
        "trainer": "nnUNetTrainer_strokeseg_Kim2024SEUNet_Ensemble",
        "split": {"members": ENSEMBLE_MEMBERS, "subset_fraction": ENSEMBLE_SUBSET_FRACTION},
    },
)
