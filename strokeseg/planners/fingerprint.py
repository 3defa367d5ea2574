"""A dataset fingerprint extractor with a fixed, small intensity sample (``-fpe StrokesegFingerprintExtractor``).

nnU-Net 2.8's ``DatasetFingerprintExtractor`` draws 10^8 foreground voxels per channel in total, whatever the
size of the dataset, sends them from its worker processes to the main one and takes their percentiles: 27 s
for two DWI + ADC cases on a 2-core machine (benchmarks/bench_fingerprint.py), most of what planning a small
dataset costs; this extractor took 7 s.
This extractor computes the same fingerprint (spacings, shapes after cropping, cropping ratios, per-case
statistics) from :data:`INTENSITY_SAMPLES` samples instead. The samples feed only
``foreground_intensity_properties_per_channel``, which nnU-Net's CT normalization reads (its clipping window,
mean and standard deviation); no strokeseg planner assigns that scheme to an MRI channel, and the statistics of
10^6 samples stay within 1 % of the 0.5-99.5 percentile window of all foreground voxels (tests/planners).

strokeseg's demo uses it; stock planning remains the default everywhere else (``nnunet.fingerprint_extractor`` in
an experiment file, ``-fpe`` by hand).
"""

from __future__ import annotations

from nnunetv2.experiment_planning.dataset_fingerprint.fingerprint_extractor import DatasetFingerprintExtractor

__all__ = ["StrokesegFingerprintExtractor"]

#: Foreground voxels sampled per channel over the whole dataset for the fingerprint's intensity statistics
#: (nnU-Net 2.8: 10^8).
INTENSITY_SAMPLES = 1_000_000


class StrokesegFingerprintExtractor(DatasetFingerprintExtractor):
    """nnU-Net's fingerprint extractor with :data:`INTENSITY_SAMPLES` intensity samples per channel."""

    def __init__(self, dataset_name_or_id: str | int, num_processes: int = 8, verbose: bool = False) -> None:
        super().__init__(dataset_name_or_id, num_processes, verbose)
        self.num_foreground_voxels_for_intensitystats = INTENSITY_SAMPLES
