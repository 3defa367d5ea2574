"""MR signal models of the phantoms: DWI/b0/ADC, FLAIR and T1w from tissue fractions and pathology maps.

Relative units: white matter on b0 = 1. Diffusion follows the mono-exponential model per compartment
(grey matter, white matter, CSF): S_b = sum_k f_k S0_k exp(-b ADC_k), with ADC in mm²/s. The scanner's ADC
map is computed from the *noisy* b0 and DWI, as scanners do, and stored in 10^-6 mm²/s.

Pathology (each a 0..1 map on the grid):
    acute infarct      T2 up (with onset time), ADC down ~50 %  -> bright DWI, dark ADC
    T2 shine-through   T2 strongly up, ADC up                 -> bright DWI, normal/bright ADC (a distractor)
    susceptibility     b0 and DWI scaled up together          -> bright DWI rims, normal ADC (a distractor)
    WMH                T2 mildly up, ADC up                    -> faint on DWI, bright on FLAIR
    chronic infarct    tissue replaced by CSF-like fluid with a gliotic rim
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from strokeseg.synthetic.sites import SiteProfile

#: Nominal ADC of grey matter, white matter and CSF, mm²/s.
ADC_GM, ADC_WM, ADC_CSF = 0.85e-3, 0.72e-3, 3.0e-3
#: ADC of a chronic infarct's fluid, mm²/s.
ADC_CHRONIC = 2.6e-3
#: Largest ADC stored (mm²/s); above it is clipped.
ADC_MAX = 4.0e-3


@dataclass(frozen=True)
class Pathology:
    """0..1 maps of everything that is not normal tissue, all on one grid (z, y, x).

    Attributes:
        acute: acute infarct (soft edge).
        acute_adc_factor: voxel-wise ADC factor inside the acute infarct (heterogeneous, ~0.5).
        acute_t2_factor: T2 (b0) factor of the acute infarct (depends on onset time).
        flair_factor: FLAIR factor of the acute infarct (FLAIR-DWI mismatch in the first hours).
        shine_through: T2 shine-through lesions.
        wmh: white-matter hyperintensities.
        chronic_core: fluid-filled core of a chronic infarct.
        chronic_rim: gliotic rim of a chronic infarct.
        susceptibility: artefact strength (already scaled by the site and the case).
    """

    acute: np.ndarray
    acute_adc_factor: np.ndarray
    acute_t2_factor: float
    flair_factor: float
    shine_through: np.ndarray
    wmh: np.ndarray
    chronic_core: np.ndarray
    chronic_rim: np.ndarray
    susceptibility: np.ndarray


def onset_t2_factor(onset_h: float) -> float:
    """T2 (b0) increase of an acute infarct after ``onset_h`` hours (vasogenic oedema builds over days)."""
    return float(1.0 + 0.45 * (1.0 - np.exp(-max(onset_h, 0.0) / 30.0)))


def onset_adc_factor(onset_h: float) -> float:
    """Mean ADC factor of an acute infarct: ~0.5 for 3 days, then pseudo-normalising towards 0.75 at 7 days."""
    return float(0.5 + 0.25 * np.clip((onset_h - 72.0) / 96.0, 0.0, 1.0))


def onset_flair_factor(onset_h: float) -> float:
    """FLAIR increase of an acute infarct (nearly invisible in the first hours: the FLAIR-DWI mismatch)."""
    return float(1.0 + 0.9 * (1.0 - np.exp(-max(onset_h - 1.0, 0.0) / 20.0)))


def diffusion_signals(gm: np.ndarray, wm: np.ndarray, csf: np.ndarray, scalp: np.ndarray, pathology: Pathology,
                      site: SiteProfile) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free b0 and DWI (relative units) of every voxel."""
    contrast = site.gm_wm_contrast
    s0_gm = 1.0 + 0.22 * contrast
    acute = pathology.acute * site.lesion_conspicuity
    tissue_s0_factor = ((1.0 + acute * (pathology.acute_t2_factor - 1.0))
                        * (1.0 + 1.3 * pathology.shine_through) * (1.0 + 0.35 * pathology.wmh)
                        * (1.0 + 0.5 * pathology.chronic_rim))
    tissue_adc_factor = ((1.0 - acute * (1.0 - pathology.acute_adc_factor))
                         * (1.0 + 0.35 * pathology.shine_through) * (1.0 + 0.2 * pathology.wmh)
                         * (1.0 + 0.3 * pathology.chronic_rim))
    core = pathology.chronic_core
    gm_f, wm_f = gm * (1.0 - core), wm * (1.0 - core)
    fluid = csf + core * (gm + wm)
    adc_gm = ADC_GM * (1.0 + 0.1 * (contrast - 1.0))
    b = site.b_value
    b0 = (gm_f * s0_gm + wm_f) * tissue_s0_factor + fluid * site.csf_b0_level + 0.25 * scalp
    dwi = ((gm_f * s0_gm * np.exp(-b * adc_gm * tissue_adc_factor) + wm_f * np.exp(-b * ADC_WM * tissue_adc_factor))
           * tissue_s0_factor + csf * site.csf_b0_level * np.exp(-b * ADC_CSF)
           + core * (gm + wm) * site.csf_b0_level * np.exp(-b * ADC_CHRONIC) + 0.02 * scalp)
    artefact = 1.0 + 1.6 * pathology.susceptibility
    return (b0 * artefact).astype(np.float32), (dwi * artefact).astype(np.float32)


def fat_ghost(scalp: np.ndarray, site: SiteProfile, spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """The scalp fat's chemical-shift ghost (relative units, added to b0 and DWI alike; fat barely diffuses).

    EPI displaces incompletely suppressed fat along the phase-encoding direction (here the grid's second axis)
    by several millimetres, so the ghost overlays the brain's edge. Zeros when the site's ``fat_ghost`` is 0.
    """
    if site.fat_ghost <= 0:
        return np.zeros(scalp.shape, np.float32)
    shift = site.fat_ghost_shift_mm / spacing_zyx[1]
    return (site.fat_ghost * ndimage.shift(scalp.astype(np.float32), (0.0, shift, 0.0), order=1)).astype(np.float32)


def flair_signal(gm: np.ndarray, wm: np.ndarray, csf: np.ndarray, scalp: np.ndarray, pathology: Pathology,
                 site: SiteProfile) -> np.ndarray:
    """Noise-free FLAIR: CSF suppressed, grey brighter than white, WMH and (older) infarcts bright."""
    core = pathology.chronic_core
    tissue = (gm * (1.0 + 0.25 * site.gm_wm_contrast) + wm) * (1.0 - core)
    factor = ((1.0 + pathology.acute * (pathology.flair_factor - 1.0)) * (1.0 + 0.9 * pathology.wmh)
              * (1.0 + 0.8 * pathology.chronic_rim) * (1.0 + 0.6 * pathology.shine_through))
    return (tissue * factor + 0.08 * (csf + core * (gm + wm)) + 0.7 * scalp).astype(np.float32)


def t1_signal(t1: np.ndarray, gm: np.ndarray, wm: np.ndarray, scalp: np.ndarray, pathology: Pathology,
              site: SiteProfile) -> np.ndarray:
    """Noise-free T1w from the template's T1: lesions and fluid dark, scalp fat bright."""
    contrast = 1.0 + 0.3 * (site.gm_wm_contrast - 1.0) * (gm - wm)
    factor = ((1.0 - 0.12 * pathology.acute) * (1.0 - 0.15 * pathology.wmh) * (1.0 - 0.75 * pathology.chronic_core)
              * (1.0 - 0.3 * pathology.chronic_rim))
    return (t1 * contrast * factor + 0.9 * scalp * (t1 < 0.05)).astype(np.float32)


def bias_field(shape: tuple[int, int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative bias field exp(strength * quadratic polynomial) over the grid, mean ~1."""
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    coefficients = rng.normal(0.0, 1.0, 9)
    polynomial = (coefficients[0] * x + coefficients[1] * y + coefficients[2] * z + coefficients[3] * x * y
                  + coefficients[4] * y * z + coefficients[5] * x * z
                  - abs(coefficients[6]) * x**2 - abs(coefficients[7]) * y**2 + coefficients[8] * z**2) / 3.0
    return np.exp(strength * polynomial).astype(np.float32)


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma`` per channel."""
    if sigma <= 0:
        return signal
    real = signal + rng.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
    imaginary = rng.standard_normal(signal.shape, dtype=np.float32) * np.float32(sigma)
    return np.sqrt(real * real + imaginary * imaginary)


def reconstruction_blur(image: np.ndarray, blur_mm: float, spacing_zyx: tuple[float, float, float]) -> np.ndarray:
    """In-plane Gaussian blur of FWHM ``blur_mm`` (interpolated low-resolution acquisitions)."""
    if blur_mm <= 0:
        return image
    sigma = blur_mm / 2.3548
    return ndimage.gaussian_filter(image, sigma=(0.0, sigma / spacing_zyx[1], sigma / spacing_zyx[2]))


def adc_map(b0: np.ndarray, dwi: np.ndarray, b_value: float, noise_sigma: float) -> np.ndarray:
    """ADC (mm²/s) from b0 and DWI, zero where b0 is background (below 5 noise sigmas or 0.1)."""
    foreground = b0 > max(5.0 * noise_sigma, 0.1)
    ratio = np.where(foreground, b0 / np.maximum(dwi, 1e-6), 1.0)
    adc = np.log(np.maximum(ratio, 1.0)) / b_value
    return np.where(foreground, np.clip(adc, 0.0, ADC_MAX), 0.0).astype(np.float32)
