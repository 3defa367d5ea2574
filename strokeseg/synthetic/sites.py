"""Acquisition sites of the phantom cohorts: vendor, field strength, voxel grid, intensity and artefact levels.

Sites differ as real scanners do (docs/conversion.md, Noh's registry and Alis' vendor split): in-plane spacing
0.8-1.2 mm, slices 3-5 mm, storage intensity scale, bias field, Rician noise, reconstruction blur, grey/white
contrast, b-value, orientation, susceptibility artefacts. The differences are visible but learnable: a model trained
on some vendors should transfer, imperfectly, to a held-out one.

``SHIFTED_DWI_SITES`` is a second registry site set with a known, documented domain shift that intensity
normalisation cannot undo (lesion conspicuity, noise, slice thickness, in-plane resolution, blur, bias field,
b-value, ADC scaling, fat ghost): two similar internal hospitals and one shifted external one, every parameter
inside the real-world range of :data:`REAL_WORLD_RANGES` (docs/synthetic.md, "Shifted sites").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strokeseg.errors import ConfigurationError

#: Orientation codes (NIfTI, where the axes point) the writers accept.
ORIENTATIONS: tuple[str, ...] = ("LAS", "RAS", "LPS")


@dataclass(frozen=True)
class SiteProfile:
    """One scanner of a phantom cohort.

    Attributes:
        name: site name (folder name in the WMH layout, ``site`` column elsewhere).
        vendor: canonical vendor (Siemens, GE, Philips; see ``strokeseg.cases.canonical_vendor``).
        manufacturer: the DICOM/BIDS ``Manufacturer`` string the JSON sidecars carry.
        model: ``ManufacturerModelName``.
        field_strength_t: magnetic field strength, tesla.
        in_plane_mm: range (low, high) of the in-plane voxel spacing, mm; drawn per case.
        slice_thickness_mm: slice thicknesses this site uses, mm; one drawn per case (no gap).
        intensity_scale: stored value of white matter on b0 (int16 storage for DWI/b0).
        bias_field_strength: amplitude of the smooth multiplicative bias field (log scale; 0 = none).
        noise_level: Rician noise sigma relative to white-matter b0 signal.
        gm_wm_contrast: multiplies the grey-white difference of the T2/diffusion signal (1 = nominal).
        csf_b0_level: CSF signal on b0 relative to white matter.
        b_value: diffusion weighting of the DWI, s/mm².
        blur_mm: in-plane Gaussian FWHM of the reconstruction (interpolated low-resolution acquisitions), mm.
        susceptibility: strength of the bright susceptibility rims at the skull base (1 = typical 3 T).
        orientation: voxel-axis orientation of the written NIfTI files ("LAS", "RAS" or "LPS").
        lesion_conspicuity: scales the acute infarct's ADC drop and T2 rise (1 = nominal: ADC × 0.5).
        adc_scale: multiplies the scanner's ADC map (vendor ADC calibration; 1 = exact).
        fat_ghost: signal of the incompletely suppressed scalp fat on b0 and DWI, relative to white matter on b0
            (0 = perfect fat suppression); the ghost is displaced by ``fat_ghost_shift_mm``.
        fat_ghost_shift_mm: chemical-shift displacement of the fat ghost along the grid's second (phase-encoding)
            axis, mm; it overlays the brain's edge, where a skull strip keeps it.
    """

    name: str
    vendor: str
    manufacturer: str
    model: str
    field_strength_t: float
    in_plane_mm: tuple[float, float] = (0.9, 1.0)
    slice_thickness_mm: tuple[float, ...] = (5.0,)
    intensity_scale: float = 500.0
    bias_field_strength: float = 0.2
    noise_level: float = 0.04
    gm_wm_contrast: float = 1.0
    csf_b0_level: float = 2.4
    b_value: float = 1000.0
    blur_mm: float = 0.0
    susceptibility: float = 1.0
    orientation: str = "LPS"
    lesion_conspicuity: float = 1.0
    adc_scale: float = 1.0
    fat_ghost: float = 0.0
    fat_ghost_shift_mm: float = 12.0

    def __post_init__(self) -> None:
        low, high = self.in_plane_mm
        if not 0.2 <= low <= high <= 5.0:
            raise ConfigurationError(f"site {self.name}: in_plane_mm {self.in_plane_mm} must satisfy "
                                     "0.2 <= low <= high <= 5")
        if not self.slice_thickness_mm or any(not 0.5 <= t <= 10.0 for t in self.slice_thickness_mm):
            raise ConfigurationError(f"site {self.name}: slice thicknesses must be between 0.5 and 10 mm")
        if self.orientation not in ORIENTATIONS:
            raise ConfigurationError(f"site {self.name}: orientation must be one of {', '.join(ORIENTATIONS)}")
        if self.field_strength_t <= 0 or self.intensity_scale <= 0 or self.noise_level < 0 or self.b_value <= 0:
            raise ConfigurationError(f"site {self.name}: field strength, intensity scale and b-value must be "
                                     "positive, the noise level non-negative")
        if not (0.0 < self.lesion_conspicuity <= 2.0 and 0.5 <= self.adc_scale <= 1.5 and self.fat_ghost >= 0.0
                and self.fat_ghost_shift_mm >= 0.0):
            raise ConfigurationError(f"site {self.name}: lesion conspicuity must lie in (0, 2], the ADC scale in "
                                     "[0.5, 1.5], the fat ghost and its shift must be non-negative")


#: The multi-site DWI registry (and ISLES'22-like) default: 5 hospitals, 3 vendors, 1.5 T and 3 T.
DWI_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("HospitalA", "Siemens", "SIEMENS", "Skyra", 3.0, (0.8, 0.9), (3.0, 4.0), intensity_scale=420.0,
                bias_field_strength=0.25, noise_level=0.030, gm_wm_contrast=1.0, susceptibility=1.0,
                orientation="LPS"),
    SiteProfile("HospitalB", "GE", "GE MEDICAL SYSTEMS", "Signa HDxt", 1.5, (0.9, 0.95), (5.0,),
                intensity_scale=1600.0, bias_field_strength=0.15, noise_level=0.050, gm_wm_contrast=1.35,
                csf_b0_level=2.8, blur_mm=1.6, susceptibility=0.6, orientation="RAS"),
    SiteProfile("HospitalC", "Philips", "Philips Medical Systems", "Ingenia", 3.0, (1.1, 1.2), (4.0, 5.0),
                intensity_scale=90.0, bias_field_strength=0.35, noise_level=0.035, gm_wm_contrast=0.8,
                csf_b0_level=2.1, susceptibility=1.2, orientation="LAS"),
    SiteProfile("HospitalD", "Siemens", "SIEMENS", "Avanto", 1.5, (1.0, 1.2), (5.0,), intensity_scale=300.0,
                bias_field_strength=0.15, noise_level=0.055, gm_wm_contrast=1.1, susceptibility=0.5,
                orientation="LPS"),
    SiteProfile("HospitalE", "GE", "GE MEDICAL SYSTEMS", "Discovery MR750", 3.0, (0.85, 0.95), (3.0, 4.0),
                intensity_scale=2200.0, bias_field_strength=0.3, noise_level=0.030, gm_wm_contrast=1.25,
                csf_b0_level=2.6, blur_mm=1.2, susceptibility=1.1, orientation="RAS"),
)

#: ATLAS R2.0-like cohorts (T1w already in MNI space; the site shows in contrast, noise and bias).
ATLAS_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("R001", "Siemens", "SIEMENS", "TrioTim", 3.0, (1.0, 1.0), (1.0,), intensity_scale=120.0,
                bias_field_strength=0.15, noise_level=0.02, orientation="RAS"),
    SiteProfile("R009", "GE", "GE MEDICAL SYSTEMS", "Signa HDxt", 1.5, (1.0, 1.0), (1.0,), intensity_scale=900.0,
                bias_field_strength=0.1, noise_level=0.035, gm_wm_contrast=1.2, orientation="RAS"),
    SiteProfile("R034", "Philips", "Philips Medical Systems", "Achieva", 3.0, (1.0, 1.0), (1.0,),
                intensity_scale=60.0, bias_field_strength=0.25, noise_level=0.025, gm_wm_contrast=0.85,
                orientation="RAS"),
)

#: MICCAI 2017 WMH challenge-like sites (folder names as in the challenge release).
WMH_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("Utrecht", "Philips", "Philips Medical Systems", "Achieva", 3.0, (0.96, 0.96), (3.0,),
                intensity_scale=300.0, bias_field_strength=0.25, noise_level=0.03, orientation="LAS"),
    SiteProfile("Singapore", "Siemens", "SIEMENS", "TrioTim", 3.0, (1.0, 1.0), (3.0,), intensity_scale=700.0,
                bias_field_strength=0.2, noise_level=0.035, gm_wm_contrast=1.2, orientation="LPS"),
    SiteProfile("GE3T", "GE", "GE MEDICAL SYSTEMS", "Signa HDxt", 3.0, (0.98, 0.98), (3.0,),
                intensity_scale=1500.0, bias_field_strength=0.3, noise_level=0.03, gm_wm_contrast=0.9,
                blur_mm=1.0, orientation="RAS"),
)


#: The registry with a built-in domain shift (the demo's positive control): ShiftA and ShiftB are similar 3 T
#: hospitals; ShiftC, the external one, is a 1.5 T scanner with thick slices, coarse interpolated in-plane
#: resolution, b = 800, low lesion conspicuity, high noise, a strong bias field, a fat ghost and an ADC bias.
SHIFTED_DWI_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("ShiftA", "Siemens", "SIEMENS", "Prisma", 3.0, (0.9, 1.0), (3.0, 4.0), intensity_scale=450.0,
                bias_field_strength=0.15, noise_level=0.025, gm_wm_contrast=1.0, susceptibility=1.0,
                orientation="LPS", lesion_conspicuity=1.0, adc_scale=1.0, fat_ghost=0.0),
    SiteProfile("ShiftB", "Philips", "Philips Medical Systems", "Ingenia", 3.0, (1.0, 1.1), (4.0,),
                intensity_scale=120.0, bias_field_strength=0.2, noise_level=0.03, gm_wm_contrast=0.95,
                csf_b0_level=2.3, susceptibility=1.1, orientation="LAS", lesion_conspicuity=0.95, adc_scale=0.98,
                fat_ghost=0.02),
    SiteProfile("ShiftC", "GE", "GE MEDICAL SYSTEMS", "Signa HDxt", 1.5, (1.6, 1.8), (6.0,),
                intensity_scale=1800.0, bias_field_strength=0.45, noise_level=0.07, gm_wm_contrast=1.2,
                csf_b0_level=2.7, b_value=800.0, blur_mm=2.0, susceptibility=0.6, orientation="RAS",
                lesion_conspicuity=0.7, adc_scale=1.08, fat_ghost=0.15),
)

#: Real-world range (low, high) of each acquisition parameter of a DWI site, in the parameter's unit; the
#: shifted sites stay inside them (docs/synthetic.md, "Shifted sites", says what each range mimics).
REAL_WORLD_RANGES: dict[str, tuple[float, float]] = {
    "field_strength_t": (1.5, 3.0),
    "in_plane_mm": (0.8, 2.0),
    "slice_thickness_mm": (3.0, 7.0),
    "b_value": (800.0, 1000.0),
    "noise_level": (0.02, 0.1),
    "bias_field_strength": (0.1, 0.5),
    "blur_mm": (0.0, 2.5),
    "lesion_conspicuity": (0.6, 1.2),
    "adc_scale": (0.9, 1.1),
    "fat_ghost": (0.0, 0.2),
}

#: Named site sets of the DWI layouts (``strokeseg synth --site-set``).
DWI_SITE_SETS: dict[str, tuple[SiteProfile, ...]] = {"default": DWI_SITES, "shifted": SHIFTED_DWI_SITES}


def site_set(layout: str, name: str = "default") -> tuple[SiteProfile, ...]:
    """The site set ``name`` of a layout: ``default`` for every layout, ``shifted`` for registry and isles22.

    Raises:
        ConfigurationError: an unknown set, or ``shifted`` for a layout without DWI.
    """
    if name == "default":
        return default_sites(layout)
    if name not in DWI_SITE_SETS:
        raise ConfigurationError(f"unknown site set {name!r}; choose one of {', '.join(DWI_SITE_SETS)}")
    if layout not in ("registry", "isles22"):
        raise ConfigurationError(f"the site set {name!r} is a DWI registry's; layout {layout} has only 'default'")
    return DWI_SITE_SETS[name]


def default_sites(layout: str) -> tuple[SiteProfile, ...]:
    """The default sites of a layout: DWI hospitals, ATLAS cohorts or the WMH challenge sites (wmh, wmh-registry)."""
    return {"atlas2": ATLAS_SITES, "wmh": WMH_SITES, "wmh-registry": WMH_SITES}.get(layout, DWI_SITES)


def check_sites(sites: Sequence[SiteProfile]) -> tuple[SiteProfile, ...]:
    """Validate a user's site list: non-empty, unique names."""
    sites = tuple(sites)
    if not sites:
        raise ConfigurationError("at least one site is needed")
    names = [site.name for site in sites]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"site names must be unique, got {', '.join(names)}")
    return sites
