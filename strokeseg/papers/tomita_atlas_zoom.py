"""Tomita et al.'s ATLAS T1w "zoom-in & out" study as published (preset ``tomita_atlas_zoom``).

A 3D residual U-Net with group normalization, BCE + Dice, Adam: 1200 epochs on 128 mm cubes at 1e-3, then 150
epochs on 144 x 172 x 168 mm sub-volumes at 1e-4 with cosine annealing and warm restarts, from the zoom-in weights,
in one nnU-Net run; prediction on the centre 144 x 172 x 168 mm of each image (everything outside background); a
snapshot ensemble of zoom-out epochs 50, 100 and 150 ("-E"); the ablation compares the same run's zoom-in result
("-F") with the final and "-E" models; a 182/26/31 train/development/test split. The fidelity table,
``docs/papers/tomita_atlas_zoom.md``, lists every stated detail and how the preset reproduces it.
"""

from __future__ import annotations

from strokeseg.defaults import TOMITA_SPLIT_COUNTS
from strokeseg.nnunet.plans import TOMITA_PLANS_NAME
from strokeseg.nnunet.zoom_configurations import ZOOM_OUT_CONFIGURATION
from strokeseg.papers.preset import Preset

PRESET = Preset(
    key="tomita_atlas_zoom",
    title=("Tomita N, Jiang S, Maeder ME, Hassanpour S. Automatic post-stroke lesion segmentation on MR images using "
           "3D residual convolutional neural network. NeuroImage: Clinical 27:102276, 2020."),
    planner="TomitaAtlasPlanner",
    plans=TOMITA_PLANS_NAME,
    configuration=ZOOM_OUT_CONFIGURATION,
    trainer="nnUNetTrainer_strokeseg_Tomita2020",
    cpu_trainer="nnUNetTrainer_strokeseg_Tomita2020_CPU",
    variants={
        # nnU-Net's flavour: 1000 epochs of 250 iterations (800 zoomed in), deep supervision, rotation
        # augmentation, zoom-out patch rounded to the stride; plan with AtlasT1Planner (whole-volume prediction)
        "nnunet_flavoured": "nnUNetTrainer_strokeseg_ZoomInOut",
        "nnunet_flavoured_sgd": "nnUNetTrainer_strokeseg_ZoomInOut_SGD",
    },
    split_design="train-dev-test",
    split_options={"counts": TOMITA_SPLIT_COUNTS},
    experiment={"kind": "zoom-ablation", "planner": "TomitaAtlasPlanner",
                "trainer": "nnUNetTrainer_strokeseg_Tomita2020", "configuration": ZOOM_OUT_CONFIGURATION},
)
