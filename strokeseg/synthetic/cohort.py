"""``generate_cohort``: a phantom cohort in one of the real layouts, in parallel, resumable, deterministic by seed.

Case ``i`` is acquired at site ``sites[i % len(sites)]`` and drawn from ``numpy.random.default_rng([seed, i])``,
so a cohort does not depend on the number of workers. Progress is kept in ``OUT/.strokeseg_synth/``: an
interrupted run continues where it stopped when called again with the same arguments.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from strokeseg.errors import ConfigurationError, OutputExistsError
from strokeseg.io import write_json_atomic
from strokeseg.synthetic.anatomy import load_phantom_template
from strokeseg.synthetic.choices import LAYOUTS
from strokeseg.synthetic.layouts import LAYOUT_KINDS, WrittenCase, write_case, write_tables
from strokeseg.synthetic.montage import write_montage
from strokeseg.synthetic.phantom import make_phantom
from strokeseg.synthetic.sites import SiteProfile, check_sites, default_sites

logger = logging.getLogger(__name__)

STATE_FOLDER = ".strokeseg_synth"
MONTAGE_FILE = "montage.png"
#: Channels shown in the montage per layout.
MONTAGE_CHANNELS: dict[str, tuple[str, ...]] = {
    "registry": ("dwi", "adc", "b0"), "isles22": ("dwi", "adc"), "atlas2": ("t1",), "wmh": ("flair", "t1"),
    "wmh-registry": ("flair",),
}


@dataclasses.dataclass(frozen=True)
class _Job:
    out: Path
    layout: str
    index: int
    seed: int
    site: SiteProfile
    subject_number: int
    flair: bool
    empty: bool
    cache_dir: Path | None


def _subject_number(layout: str, index: int, n_sites: int) -> int:
    site_index, within = index % n_sites, index // n_sites
    if layout == "wmh":  # the WMH challenge numbers subjects per site in blocks (0.., 50.., 100..)
        return 50 * site_index + within
    return within + 1


def _run_job(job: _Job) -> dict[str, Any]:
    case = make_phantom(job.index, job.seed, job.site, LAYOUT_KINDS[job.layout], flair=job.flair,
                        empty=job.empty, cache_dir=job.cache_dir)
    written = write_case(job.layout, job.out, case, job.subject_number)
    record = dataclasses.asdict(written)
    write_json_atomic(job.out / STATE_FOLDER / f"case_{job.index:06d}.json", record)
    return record


def _parameters(layout: str, n_cases: int, seed: int, sites: Sequence[SiteProfile], flair: bool,
                empty_fraction: float) -> dict[str, Any]:
    return {"layout": layout, "n_cases": n_cases, "seed": seed, "sites": [dataclasses.asdict(s) for s in sites],
            "flair": flair, "empty_fraction": empty_fraction}


def _prepare_output(out: Path, parameters: dict[str, Any], overwrite: bool) -> None:
    state = out / STATE_FOLDER
    stored = state / "parameters.json"
    if out.exists() and any(out.iterdir()):
        same = stored.is_file() and json.loads(stored.read_text()) == json.loads(json.dumps(parameters))
        if same:  # finished cases are kept, with or without overwrite
            logger.info("resuming the cohort in %s", out)
            return
        if not overwrite:
            raise OutputExistsError(f"{out} already exists and holds other data; pass --overwrite to replace a "
                                    "cohort written by `strokeseg synth`, or choose another --out")
        if not stored.is_file():
            raise OutputExistsError(f"{out} is not empty and was not written by `strokeseg synth`; refusing to "
                                    "delete it even with --overwrite; choose another --out")
        shutil.rmtree(out)
    state.mkdir(parents=True, exist_ok=True)
    write_json_atomic(stored, parameters)


def generate_cohort(out: Path, layout: str, n_cases: int, seed: int, sites: Sequence[SiteProfile] | None = None,
                    workers: int = 1, overwrite: bool = False, *, flair: bool | None = None,
                    empty_fraction: float = 0.0, cache_dir: Path | None = None, montage_cases: int = 4) -> Path:
    """Generate a phantom cohort; returns ``out``.

    Args:
        out: output folder (created; an existing ``strokeseg synth`` folder with the same arguments is resumed).
        layout: "registry", "isles22", "atlas2", "wmh" or "wmh-registry" (see ``strokeseg.synthetic.layouts``).
        n_cases: number of cases.
        seed: cohort seed; the same seed gives the same files.
        sites: acquisition sites (default: the layout's default sites).
        workers: parallel processes.
        overwrite: replace an existing cohort folder written by ``strokeseg synth`` with other arguments.
        flair: also write FLAIR (default: yes for isles22, no for registry; atlas2 has none, wmh and wmh-registry
            always).
        empty_fraction: fraction of cases without a labelled lesion (drawn per case from the seed).
        cache_dir: cache root of the location atlas.
        montage_cases: cases shown in ``OUT/montage.png`` (0: no montage).

    Raises:
        ConfigurationError: unknown layout, no cases, bad sites.
        OutputExistsError: ``out`` holds other data and ``overwrite`` is false.
    """
    if layout not in LAYOUTS:
        raise ConfigurationError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if n_cases < 1:
        raise ConfigurationError(f"--n-cases must be at least 1, got {n_cases}")
    if not 0.0 <= empty_fraction < 1.0:
        raise ConfigurationError(f"empty_fraction must be in [0, 1), got {empty_fraction}")
    chosen_sites = check_sites(sites if sites is not None else default_sites(layout))
    with_flair = (layout == "isles22") if flair is None else bool(flair)
    if with_flair and LAYOUT_KINDS[layout] == "chronic":
        raise ConfigurationError(f"the {layout} layout has no FLAIR images")
    out = Path(out)
    _prepare_output(out, _parameters(layout, n_cases, seed, chosen_sites, with_flair, empty_fraction), overwrite)
    records: dict[int, dict[str, Any]] = {}
    for index in range(n_cases):
        done = out / STATE_FOLDER / f"case_{index:06d}.json"
        if done.is_file():
            records[index] = json.loads(done.read_text())
    jobs = [_Job(out, layout, index, seed, chosen_sites[index % len(chosen_sites)],
                 _subject_number(layout, index, len(chosen_sites)), with_flair,
                 bool(np.random.default_rng([seed, index, 1]).random() < empty_fraction), cache_dir)
            for index in range(n_cases) if index not in records]
    if jobs:
        load_phantom_template(cache_dir)  # build the atlas once; forked workers inherit the loaded template
    progress = tqdm(total=n_cases, initial=len(records), desc=f"synth {layout}", unit="case")
    try:
        if workers <= 1:
            for job in jobs:
                records[job.index] = _run_job(job)
                progress.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_run_job, job): job.index for job in jobs}
                for future in as_completed(futures):
                    records[futures[future]] = future.result()
                    progress.update()
    finally:
        progress.close()
    written = [WrittenCase(**records[index]) for index in range(n_cases)]
    write_tables(layout, out, written)
    if montage_cases > 0:
        _montage(out, layout, written[:montage_cases])
    logger.info("wrote %d %s phantom case(s) to %s", n_cases, layout, out)
    return out


def _montage(out: Path, layout: str, written: Sequence[WrittenCase]) -> Path:
    rows = []
    for case in written:
        images = {name: sitk.ReadImage(str(out / path)) for name, path in case.images.items()}
        first = images[MONTAGE_CHANNELS[layout][0]]
        if case.mask:
            label = sitk.ReadImage(str(out / case.mask))
        else:
            label = sitk.Image(first.GetSize(), sitk.sitkUInt8)
            label.CopyInformation(first)
        rows.append((case.case_id, images, label))
    return write_montage(rows, out / MONTAGE_FILE, MONTAGE_CHANNELS[layout])
