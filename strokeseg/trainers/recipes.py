"""The settings trainers are composed of: the papers' models and the run sizes (``TrainerSettings`` bundles).

A paper's model is its network, loss and optimizer with the settings that go with them; a run size shortens and
narrows a run so that it fits a CPU. ``class X(FineTuningTrainer, settings=(TOMITA, CPU_LEARNING))`` is Tomita's
model fine-tuned at the CPU-learning size.
"""

from __future__ import annotations

from strokeseg.defaults import (
    ALIS_EPOCHS,
    ALIS_LR,
    ALIS_TVERSKY_ALPHA,
    ALIS_TVERSKY_BETA,
    ALIS_WIDTH_SCALE,
    DEFAULT_SEED,
    DWI_NETWORK_WIDTH_SCALE,
    KIM_EPOCHS,
    KIM_LR,
    KIM_LR_DECAY,
    SWIN_LR,
    SWIN_WEIGHT_DECAY,
    ZOOM_IN_LR,
)
from strokeseg.trainers.architectures import (
    KIM_2D_SE_UNET,
    KIM_2D_UNET,
    PADDED_RESIDUAL_GROUP_NORM_UNET,
    PRE_ACT_RESIDUAL_UNET,
    RESIDUAL_GROUP_NORM_UNET,
    SE_UNET,
    SLICE_STACK_CONVLSTM_UNET,
    SWIN_UNETR,
    SWIN_UNETR_TINY,
)
from strokeseg.trainers.augmentation import NO_AUGMENTATION, REGISTRY_DWI_AUGMENTATION, VENDOR_DWI_ADC_AUGMENTATION
from strokeseg.trainers.base import TrainerSettings
from strokeseg.trainers.losses import BCEDiceRecipe, SoftDiceRecipe, TverskyRecipe

#: Noh et al. (acute DWI): pre-activation residual U-Net at 3/8 of nnU-Net's widths, nnU-Net's loss and SGD,
#: fast left-right test-time mirroring.
NOH = TrainerSettings(network_recipe=PRE_ACT_RESIDUAL_UNET, width_scale=DWI_NETWORK_WIDTH_SCALE,
                      inference_mirroring="left_right")
#: Noh et al. as published (the ``noh_registry_dwi`` preset): the NOH model without deep supervision (the paper's
#: network has one output), trained with the paper's TorchIO augmentations instead of nnU-Net's.
NOH2023 = TrainerSettings(network_recipe=PRE_ACT_RESIDUAL_UNET, width_scale=DWI_NETWORK_WIDTH_SCALE,
                          inference_mirroring="left_right", deep_supervision=False,
                          augmentation_recipe=REGISTRY_DWI_AUGMENTATION)
#: The registry study's transformer arm (``noh_registry_dwi`` preset): MONAI's Swin UNETR in place of the U-Net,
#: everything else as NOH2023 (its TorchIO augmentations, nnU-Net's loss, epochs, iterations and poly decay, one
#: output, left-right test-time mirroring) except the optimizer: MONAI's reference AdamW at 1e-4, weight decay
#: 1e-5 (the paper's main text states none). Never compiled (MONAI's SwinUNETR under torch.compile is untested
#: here).
NOH2023_SWIN_UNETR = TrainerSettings(**{**NOH2023.attributes(), "network_recipe": SWIN_UNETR, "optimizer_name": "adamw",
                                        "initial_lr_override": SWIN_LR, "weight_decay_override": SWIN_WEIGHT_DECAY,
                                        "allow_compile": False})
#: ...its CPU-sized run, applied after ``TINY``: feature size 12 and 1 epoch of 2 training and 1 validation
#: iterations (a transformer iteration on a padded 32 x 32 x 64 patch takes seconds on a CPU).
SWIN_UNETR_TINY_RUN = TrainerSettings(network_recipe=SWIN_UNETR_TINY, num_epochs_override=1,
                                      iterations_per_epoch_override=2, val_iterations_per_epoch_override=1)
#: Tomita et al. (ATLAS T1w): residual group-norm U-Net, BCE + Dice, Adam at 1e-3.
TOMITA = TrainerSettings(network_recipe=RESIDUAL_GROUP_NORM_UNET, loss_recipe=BCEDiceRecipe(), optimizer_name="adam",
                         initial_lr_override=ZOOM_IN_LR)
#: Tomita et al. as published (preset tomita_atlas_zoom): the residual group-norm U-Net for patches of any size,
#: BCE + Dice, Adam; an epoch is one pass over the training cases, no deep supervision, no rotation augmentation,
#: no test-time mirroring (the paper describes none).
TOMITA_2020 = TrainerSettings(network_recipe=PADDED_RESIDUAL_GROUP_NORM_UNET, loss_recipe=BCEDiceRecipe(),
                              optimizer_name="adam", epochs_as_passes=True, deep_supervision=False,
                              rotation_augmentation=False, inference_mirroring="none")
#: Kim et al. (FLAIR WMH), nnU-Net-flavoured: an SE-U-Net on the plans' geometry, normalization and activation
#: (SE after every stage), Dice loss, nnU-Net's SGD, schedule, augmentation and deep supervision. The paper's
#: networks and schedule are KIM2024_UNET / KIM2024_SE_UNET.
KIM = TrainerSettings(network_recipe=SE_UNET, loss_recipe=SoftDiceRecipe())
#: Kim et al. as published (preset kim_wmh_flair): the paper's 2D U-Net, soft Dice loss, Adam at 1e-3 with Keras's
#: time-based decay 1e-3 / 300 per iteration and no weight decay, 50 epochs as passes over the training slices, no
#: deep supervision, no augmentation, no test-time mirroring, slices drawn uniformly without nnU-Net's foreground
#: oversampling (the paper describes none of these).
KIM2024_UNET = TrainerSettings(network_recipe=KIM_2D_UNET, loss_recipe=SoftDiceRecipe(), optimizer_name="adam",
                               initial_lr_override=KIM_LR, lr_schedule_name="time_based", lr_decay=KIM_LR_DECAY,
                               weight_decay_override=0.0, num_epochs_override=KIM_EPOCHS, epochs_as_passes=True,
                               deep_supervision=False, augmentation_recipe=NO_AUGMENTATION,
                               inference_mirroring="none", foreground_oversampling=0.0)
#: ...and with the paper's 2D SE-U-Net.
KIM2024_SE_UNET = TrainerSettings(**{**KIM2024_UNET.attributes(), "network_recipe": KIM_2D_SE_UNET})
#: Alis et al. (DWI + ADC, vendors), nnU-Net-flavoured: residual 2D U-Net with bidirectional ConvLSTMs at 3/8 width,
#: Tversky loss 0.3/0.7, nnU-Net's SGD schedule, augmentation and deep supervision, left-right test-time mirroring.
ALIS = TrainerSettings(network_recipe=SLICE_STACK_CONVLSTM_UNET, loss_recipe=TverskyRecipe(),
                       width_scale=DWI_NETWORK_WIDTH_SCALE, inference_mirroring="left_right")
#: Alis et al. as published (preset alis_vendor_dwi_adc): the ConvLSTM U-Net at the width closest to the paper's
#: parameter count, Tversky alpha = beta = 0.5, Adam at a constant 1e-5 without weight decay, 100 epochs of one pass
#: over the training cases, one output (no deep supervision), the epoch with the best validation Dice, the paper's
#: augmentation (crop, rotation, flip, elastic deformation), no test-time mirroring (the paper describes none).
ALIS_2022 = TrainerSettings(network_recipe=SLICE_STACK_CONVLSTM_UNET,
                            loss_recipe=TverskyRecipe(ALIS_TVERSKY_ALPHA, ALIS_TVERSKY_BETA),
                            width_scale=ALIS_WIDTH_SCALE, optimizer_name="adam", initial_lr_override=ALIS_LR,
                            lr_schedule_name="constant", weight_decay_override=0.0, num_epochs_override=ALIS_EPOCHS,
                            epochs_as_passes=True, deep_supervision=False, checkpoint_selection="best",
                            selection_metric="mean_fg_dice", augmentation_recipe=VENDOR_DWI_ADC_AUGMENTATION,
                            inference_mirroring="none")

#: ``_Tiny``: 2 epochs of 5 training and 2 validation iterations, a quarter of the plans' widths, never compiled,
#: reproducible (seeded, augmentation in the training process); proves in seconds to a minute on a CPU that a
#: pipeline runs (the examples and the demo's smoke profile).
TINY = TrainerSettings(num_epochs_override=2, iterations_per_epoch_override=5, val_iterations_per_epoch_override=2,
                       width_scale=0.25, allow_compile=False, training_seed=DEFAULT_SEED)
#: ``_Tiny`` of Kim et al.'s 2D models: ``TINY`` with 1 training and 1 validation iteration per epoch at an eighth
#: of the paper's widths (4, 8, 16 features): a batch of eight whole 256 x 256 slices takes seconds on a CPU.
KIM2024_TINY = TrainerSettings(**{**TINY.attributes(), "iterations_per_epoch_override": 1,
                                  "val_iterations_per_epoch_override": 1, "width_scale": 0.125})
#: ``Tomita2020_CPU``: a quarter of the plans' widths, never compiled; epochs stay passes over the data.
TOMITA_2020_CPU = TrainerSettings(width_scale=0.25, allow_compile=False)
#: ``Alis2022_CPU``: 2 epochs (still passes over the data) at an eighth of the plans' widths (4-40 features on the
#: preset's 224 x 224 plans), never compiled: whole 224 x 224 slice stacks are slow on a CPU.
ALIS_2022_CPU = TrainerSettings(num_epochs_override=2, width_scale=0.125, allow_compile=False)
#: ``_CPU``: 25 training and 4 validation iterations per epoch, half the plans' widths (at most 64 features), never
#: compiled, left-right test-time mirroring, reproducible (seeded, augmentation in the training process); enough
#: to learn a phantom cohort on a 2 x 2 x 5 mm grid in minutes on 2 CPU cores (the zoom-in & out ``_CPU`` trainers).
CPU_LEARNING = TrainerSettings(iterations_per_epoch_override=25, val_iterations_per_epoch_override=4, width_scale=0.5,
                               max_features=64, allow_compile=False, inference_mirroring="left_right",
                               training_seed=DEFAULT_SEED)
#: ``Noh2023_CPU``: ``CPU_LEARNING`` for the registry study's model on a phantom registry (the demo's default
#: profile): 10 epochs with 2 validation iterations each, a quarter of the plans' widths, Adam at 1e-2 with nnU-Net's
#: poly decay. Adam because the paper states no optimizer and nnU-Net's SGD (1e-2, momentum 0.99) does not leave the
#: all-background solution within a few hundred iterations when infarcts are 0.01-1 % of the patch (docs/demo.md,
#: "Why the CPU schedule uses Adam").
NOH2023_CPU = TrainerSettings(**{**CPU_LEARNING.attributes(), "optimizer_name": "adam", "initial_lr_override": 1e-2,
                                 "num_epochs_override": 10, "val_iterations_per_epoch_override": 2,
                                 "width_scale": 0.25})
