"""The demo's phantom registry: three hospitals of three vendors (the ``shifted`` site set), one held out as the
external site with a built-in domain shift.

``generate_registry`` writes the registry with ``strokeseg synth`` (layout ``registry``: NIfTI images, masks and a
manifest CSV, as a hospital export looks), then splits the manifest the way a study protocol would: the internal
hospitals' manifest marks every k-th case as a test case (``split = test``), the external hospital's manifest is
left whole (its test and adaptation pools are drawn later by ``strokeseg split domain-adaptation``).
``convert_manifest`` is the registry converter (``strokeseg convert registry``) on one of them. Both are demo
jobs' steps (:class:`GenerateRegistryStep`, :class:`ConvertManifestStep`), with the run's workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from strokeseg.dataset_conversion import CaseOptions, convert
from strokeseg.errors import InputDataError
from strokeseg.experiments.recipes.demo.profiles import EXTERNAL_SITE, INTERNAL_SITES, DemoProfile
from strokeseg.experiments.steps import RunContext
from strokeseg.io import atomic_path
from strokeseg.modalities import CHANNEL_ADC, CHANNEL_DWI
from strokeseg.nnunet.raw import dataset_folder_name
from strokeseg.synthetic import SHIFTED_DWI_SITES, generate_cohort

#: Manifests the demo writes beside the registry's own ``manifest.csv``.
INTERNAL_MANIFEST, EXTERNAL_MANIFEST = "internal_manifest.csv", "external_manifest.csv"
#: Channels converted: DWI and ADC (Alis et al.; Noh et al. use DWI, the ADC helps on the phantoms' T2 shine-through).
DEMO_CHANNELS: tuple[str, ...] = (CHANNEL_DWI, CHANNEL_ADC)


def generate_registry(folder: Path, profile: DemoProfile, workers: int) -> tuple[Path, Path]:
    """Generate the phantom registry into ``folder`` and write the internal and external manifests.

    Returns:
        (internal manifest, external manifest), CSV files in ``folder``.
    """
    sites = [site for site in SHIFTED_DWI_SITES if site.name in (*INTERNAL_SITES, EXTERNAL_SITE)]
    if profile.phantom_in_plane_mm is not None:
        voxel = profile.phantom_in_plane_mm
        sites = [replace(site, in_plane_mm=(voxel, voxel)) for site in sites]
    generate_cohort(folder, "registry", profile.total_cases, profile.seed, sites, workers=workers,
                    flair=False, montage_cases=len(sites))
    manifest = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False)
    internal = manifest[manifest["site"].isin(INTERNAL_SITES)].copy()
    internal["split"] = ["test" if profile.is_internal_test_case(i) else "train" for i in range(len(internal))]
    external = manifest[manifest["site"] == EXTERNAL_SITE].copy()
    external["split"] = "train"
    if internal.empty or external.empty:
        raise InputDataError(f"{folder / 'manifest.csv'} lacks the internal ({', '.join(INTERNAL_SITES)}) or external "
                             f"({EXTERNAL_SITE}) hospital; delete {folder} and run the demo again")
    paths = (folder / INTERNAL_MANIFEST, folder / EXTERNAL_MANIFEST)
    for table, path in zip((internal, external), paths, strict=True):
        with atomic_path(path) as temporary:
            table.to_csv(temporary, index=False)
    return paths


def convert_manifest(manifest: Path, raw: Path, dataset_id: int, name: str, workers: int) -> Path:
    """Convert one manifest with the registry converter into ``raw``; returns the dataset folder.

    A dataset folder left by an interrupted earlier call is replaced (the demo owns its ``nnUNet_raw``).
    """
    result = convert("registry", manifest, raw, dataset_id, name, strict=True, overwrite=True, workers=workers,
                     case_options=CaseOptions(), channels=DEMO_CHANNELS)
    return result.dataset_dir


@dataclass(frozen=True)
class GenerateRegistryStep:
    """Job step: :func:`generate_registry` into ``folder`` with the run's workers."""

    folder: Path
    profile: DemoProfile

    def run(self, context: RunContext) -> None:
        generate_registry(self.folder, self.profile, context.nnunet.processes)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.folder / INTERNAL_MANIFEST, self.folder / EXTERNAL_MANIFEST)


@dataclass(frozen=True)
class ConvertManifestStep:
    """Job step: :func:`convert_manifest` into the run's nnUNet_raw as ``Dataset<dataset_id>_<name>``."""

    manifest: Path
    dataset_id: int
    name: str

    def run(self, context: RunContext) -> None:
        convert_manifest(self.manifest, context.nnunet.paths.raw, self.dataset_id, self.name, context.nnunet.processes)

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (context.nnunet.paths.raw / dataset_folder_name(self.dataset_id, self.name) / "dataset.json",)
