"""The published pipelines' numbers, in one place.

Every constant here reproduces a number reported by one of the four papers strokeseg follows, or is a
documented choice where a paper is silent. Functions and CLI options take these values as *defaults*:
pass another value (keyword argument or command-line flag) to override one; nothing reads a constant
behind the caller's back.

Papers:
    Noh     acute infarcts on DWI, 10-hospital Korean registry (pre-activation residual 3D U-Net).
    Alis    inter-vendor transfer on DWI+ADC (Siemens vs GE, Tversky loss, ConvLSTM U-Net).
    Tomita  chronic lesions on ATLAS T1w (residual U-Net with group norm, "zoom-in & out").
    Kim     white-matter hyperintensities on FLAIR (SE-U-Net, 5-model deep ensemble).

Units are in the names: ``_ML`` millilitres, ``_H`` hours, ``_MM`` millimetres.
"""

from __future__ import annotations

from typing import Final

# --------------------------------------------------------------------------------------------------
# Strata (Noh; definitions in METRICS.md)
# --------------------------------------------------------------------------------------------------
#: Infarct volume strata: small < 1.7 mL, medium 1.7-14 mL (both ends inclusive), large > 14 mL.
VOLUME_SMALL_BELOW_ML: Final[float] = 1.7
VOLUME_LARGE_ABOVE_ML: Final[float] = 14.0
#: Onset-to-imaging strata: < 3 h, 3-24 h (3 and 24 inclusive), > 24 h.
ONSET_EARLY_BELOW_H: Final[float] = 3.0
ONSET_LATE_ABOVE_H: Final[float] = 24.0
#: Location: an atlas class counts when it holds at least this fraction of the lesion volume;
#: more than one such class gives "multiple".
LOCATION_MIN_FRACTION: Final[float] = 0.20

# --------------------------------------------------------------------------------------------------
# DWI intensity pipeline (Noh)
# --------------------------------------------------------------------------------------------------
#: Per-slice histogram-peak normalization: the brain-intensity histogram peak is mapped to this value...
HISTOGRAM_PEAK_TARGET: Final[float] = 150.0
#: ...and intensities are clipped at this value afterwards.
HISTOGRAM_CLIP_MAX: Final[float] = 255.0
#: N4 bias-field correction: at most this many iterations per resolution level.
N4_MAX_ITERATIONS: Final[int] = 10

# --------------------------------------------------------------------------------------------------
# FLAIR WMH intensity pipeline (Kim)
# --------------------------------------------------------------------------------------------------
#: Per-slice rescale range before the case-wise histogram.
WMH_SLICE_RESCALE_MAX: Final[float] = 255.0
#: Case-wise histogram with this many bins; its highest peak is shifted to HISTOGRAM_PEAK_TARGET.
WMH_HISTOGRAM_BINS: Final[int] = 32
#: Brain mask = intensity above this value (after the peak shift), holes filled.
WMH_BRAIN_THRESHOLD: Final[float] = 30.0

# --------------------------------------------------------------------------------------------------
# Zoom-in & out training (Tomita)
# --------------------------------------------------------------------------------------------------
#: Zoom-in patch, physical size in mm (x, y, z); converted to voxels with the dataset spacing.
ZOOM_IN_PATCH_MM: Final[tuple[float, float, float]] = (128.0, 128.0, 128.0)
#: Zoom-out patch, physical size in mm (x, y, z).
ZOOM_OUT_PATCH_MM: Final[tuple[float, float, float]] = (144.0, 172.0, 168.0)
#: Learning rate of the zoom-in phase (Adam).
ZOOM_IN_LR: Final[float] = 1e-3
#: Learning rate of the zoom-out phase (Adam, cosine annealing with warm restarts).
ZOOM_OUT_LR: Final[float] = 1e-4
#: Fraction of a zoom-in & out run's epochs spent on the zoom-in patch before switching (the paper trains
#: zoom-in first and fine-tunes zoom-out afterwards without stating the split; strokeseg's documented choice).
ZOOM_SWITCH_FRACTION: Final[float] = 0.8
#: Cosine annealing with warm restarts during the zoom-out phase: the phase is split into this many equal
#: cycles, each starting again at the zoom-out LR (the paper names the schedule, not its period; strokeseg's
#: documented choice: 4 cycles, i.e. 50 epochs each in a 1000-epoch run switched at 80 %).
ZOOM_OUT_RESTART_CYCLES: Final[int] = 4
#: Learning rates of the SGD variant of zoom-in & out, in nnU-Net's style: nnU-Net's initial LR (poly decay
#: over the zoom-in phase), then ten times lower for zoom-out, keeping the paper's 10:1 ratio.
ZOOM_IN_LR_SGD: Final[float] = 1e-2
ZOOM_OUT_LR_SGD: Final[float] = 1e-3

# --------------------------------------------------------------------------------------------------
# Networks and losses (trainers)
# --------------------------------------------------------------------------------------------------
#: Tversky loss weights of false positives (alpha) and false negatives (beta) (Alis). alpha = beta = 0.5 is
#: the soft Dice loss; beta > alpha favours sensitivity for small lesions. Salehi et al.'s recommended
#: 0.3/0.7, since the weights Alis et al. used are not restated here (documented choice).
TVERSKY_ALPHA: Final[float] = 0.3
TVERSKY_BETA: Final[float] = 0.7
#: Smoothing term added to numerator and denominator of the soft Dice/Tversky index (nnU-Net's 1e-5).
SOFT_INDEX_SMOOTH: Final[float] = 1e-5
#: Group normalization of Tomita's residual U-Net: channels are split into this many groups (Wu & He;
#: 8 groups as in the residual BraTS U-Net the paper builds on; fewer where a stage has fewer channels).
GROUP_NORM_GROUPS: Final[int] = 8
#: Squeeze-and-excitation channel reduction ratio of Kim's SE-U-Net (Hu et al.'s r = 16).
SE_REDUCTION: Final[int] = 16
#: Width of strokeseg's DWI networks (Noh's pre-activation residual U-Net, Alis's ConvLSTM U-Net) relative
#: to the features per stage in the plans: 3/8 of nnU-Net's widths (12 features at full resolution instead of
#: 32, 120 instead of 320) keeps sliding-window prediction of a 256x256x30 DWI case under 10 s on 2 CPU cores
#: (benchmarks/bench_trainers.py); the papers do not state their widths (documented choice).
DWI_NETWORK_WIDTH_SCALE: Final[float] = 0.375
#: Hidden channels of each direction of Alis's bidirectional ConvLSTMs, relative to the stage's features
#: (documented choice; both directions together then carry half the stage's channels).
CONVLSTM_HIDDEN_FRACTION: Final[float] = 0.25

# --------------------------------------------------------------------------------------------------
# Fine-tuning schedules (Noh domain adaptation; Alis vendor transfer)
# --------------------------------------------------------------------------------------------------
#: Domain adaptation: the source model is re-trained on 50-1000 target cases for this many epochs at this LR
#: (SGD; a tenth of nnU-Net's 1e-2 so that the source features are refined rather than overwritten).
FT_DOMAIN_ADAPTATION_EPOCHS: Final[int] = 50
FT_DOMAIN_ADAPTATION_LR: Final[float] = 1e-3
#: Vendor transfer: about 20 epochs at a much lower learning rate.
FT_VENDOR_TRANSFER_EPOCHS: Final[int] = 20
FT_VENDOR_TRANSFER_LR: Final[float] = 1e-4
#: Fraction of a fine-tuning run spent warming the LR up linearly (at least one epoch) before poly decay.
FT_WARMUP_FRACTION: Final[float] = 0.1

# --------------------------------------------------------------------------------------------------
# Study designs: learning curve and domain adaptation (Noh), vendor split (Alis), ensembles (Kim)
# --------------------------------------------------------------------------------------------------
#: Training-set fractions of the learning curve (2.5 % ... 100 %), nested subsamples.
LEARNING_CURVE_FRACTIONS: Final[tuple[float, ...]] = (0.025, 0.05, 0.10, 0.20, 0.50, 1.00)
#: Domain-adaptation subsample sizes drawn from the external cohort's adaptation pool, nested.
DOMAIN_ADAPTATION_SIZES: Final[tuple[int, ...]] = (50, 100, 200, 500, 1000)
#: Train : validation ratio inside every subsample (8:2).
TRAIN_FRACTION: Final[float] = 0.8
#: Vendor split into train / validation / test (80/10/10); the validation part of one vendor is the
#: fine-tuning set of the other vendor's model.
VENDOR_SPLIT_FRACTIONS: Final[tuple[float, float, float]] = (0.8, 0.1, 0.1)
#: Deep ensemble: number of members and the fraction of the training set each member sees.
ENSEMBLE_MEMBERS: Final[int] = 5
ENSEMBLE_SUBSET_FRACTION: Final[float] = 0.9

# --------------------------------------------------------------------------------------------------
# Ensemble uncertainty index (Kim; METRICS.md)
# --------------------------------------------------------------------------------------------------
#: Bernoulli prior the voxel KL divergence is measured against.
UNCERTAINTY_PRIOR: Final[float] = 0.5
#: A predicted lesion voxel is "uncertain" when its divergence (nats) is below this value.
UNCERTAINTY_DIVERGENCE_THRESHOLD: Final[float] = 0.5
#: Cases whose uncertainty index exceeds this value are flagged for human review.
UNCERTAINTY_REVIEW_CUT: Final[float] = 0.35

# --------------------------------------------------------------------------------------------------
# Evaluation (METRICS.md)
# --------------------------------------------------------------------------------------------------
#: Bootstrap resamples for confidence intervals of the mean (percentile method).
BOOTSTRAP_RESAMPLES: Final[int] = 1000
#: Seed of the bootstrap, so that reports are reproducible.
BOOTSTRAP_SEED: Final[int] = 0
#: Confidence level of the bootstrap intervals.
CONFIDENCE_LEVEL: Final[float] = 0.95
#: Normalised surface Dice tolerance in mm.
NSD_TOLERANCE_MM: Final[float] = 1.0
#: Connectivity of lesions (connected components): 6, 18 or 26 (ISLES'22 uses 26).
LESION_CONNECTIVITY: Final[int] = 26

# --------------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------------
#: Default seed of splits, phantom cohorts and subsampling.
DEFAULT_SEED: Final[int] = 12345
