"""MR modalities and labels: the channel names strokeseg writes into ``dataset.json`` and reads back.

The names select each channel's normalization in strokeseg's planners (``DWI`` → histogram peak, ``ADC`` →
fixed range, ``FLAIR`` → WMH z-score, ``T1w`` → ATLAS z-score), so converters, preprocessing, planners and
the demo all take them from here.
"""

from __future__ import annotations

import numpy as np

from strokeseg.defaults import ADC_PLAUSIBLE_P99_1E6_MM2_S
from strokeseg.errors import InputDataError

CHANNEL_DWI = "DWI"      # diffusion-weighted, b ≈ 1000 s/mm²
CHANNEL_ADC = "ADC"      # apparent diffusion coefficient map, 10⁻⁶ mm²/s
CHANNEL_B0 = "b0"        # b = 0 image of the diffusion series
CHANNEL_FLAIR = "FLAIR"  # FLAIR (WMH pipeline)
CHANNEL_T1W = "T1w"      # T1-weighted (ATLAS pipeline; also the WMH challenge's T1)

#: Label names: lesion is 1; the WMH challenge's "other pathology" becomes nnU-Net's ignore label.
LABEL_BACKGROUND = "background"
LABEL_IGNORE = "ignore"

#: Units an ADC map may arrive in, as (name, factor to 10⁻⁶ mm²/s), tried in this order.
ADC_UNITS: tuple[tuple[str, float], ...] = (("10⁻⁶ mm²/s", 1.0), ("10⁻³ mm²/s", 1e3), ("mm²/s", 1e6))


def adc_reference_value(values: np.ndarray) -> float:
    """The statistic ADC units are judged by: the 99th percentile of the positive values (0 when there are none)."""
    positive = values[values > 0]
    return float(np.percentile(positive, 99.0)) if positive.size else 0.0


def adc_unit_factor(reference: float,
                    plausible: tuple[float, float] = ADC_PLAUSIBLE_P99_1E6_MM2_S) -> tuple[str, float]:
    """The unit of an ADC map judged by ``adc_reference_value``: ``(unit name, factor to 10⁻⁶ mm²/s)``.

    The plausible range in 10⁻⁶ mm²/s is tried as is, times 10⁻³ and times 10⁻⁶; the three candidate ranges
    do not overlap, so at most one matches.

    Raises:
        InputDataError: the value fits none of the units.
    """
    low, high = plausible
    for name, factor in ADC_UNITS:
        if low <= reference * factor <= high:
            return name, factor
    raise InputDataError(
        f"the 99th percentile of the ADC inside the brain is {reference:.4g}, which is implausible in 10⁻⁶ mm²/s, "
        f"10⁻³ mm²/s or mm²/s (expected {low:g}-{high:g} × 10⁻⁶ mm²/s); is this channel really an ADC map?")
