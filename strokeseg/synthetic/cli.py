"""``strokeseg synth``: write a phantom cohort in one of the real on-disk layouts."""

from __future__ import annotations

import argparse
from pathlib import Path

from strokeseg.defaults import DEFAULT_SEED
from strokeseg.errors import ConfigurationError
from strokeseg.synthetic.cohort import MONTAGE_FILE, generate_cohort
from strokeseg.synthetic.layouts import LAYOUTS
from strokeseg.synthetic.sites import default_sites


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg synth`` to the CLI."""
    parser = subparsers.add_parser(
        "synth", help="generate a phantom cohort (registry, ISLES'22, ATLAS R2.0 or WMH layout)",
        description="Generate a multi-site phantom cohort from the packaged MNI152 template: DWI/ADC/b0 (+FLAIR) "
                    "with acute infarcts (registry, isles22), T1w with chronic lesions in MNI space (atlas2), or "
                    "FLAIR/T1 with WMH and infarcts (wmh). A montage.png of the first cases is written beside it.")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--layout", choices=LAYOUTS, required=True, help="on-disk layout")
    parser.add_argument("--cases", type=int, required=True, help="number of cases")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="cohort seed (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default: %(default)s)")
    parser.add_argument("--sites", default=None,
                        help="comma-separated subset of the layout's default sites (e.g. HospitalA,HospitalC)")
    flair = parser.add_mutually_exclusive_group()
    flair.add_argument("--flair", dest="flair", action="store_true", default=None, help="also write FLAIR")
    flair.add_argument("--no-flair", dest="flair", action="store_false", help="do not write FLAIR")
    parser.add_argument("--empty-fraction", type=float, default=0.0,
                        help="fraction of cases without a labelled lesion (default: %(default)s)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="location-atlas cache (default: $STROKESEG_CACHE or ~/.cache/strokeseg)")
    parser.add_argument("--montage-cases", type=int, default=4, help="cases in montage.png (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing cohort written by synth")
    parser.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    sites = None
    if args.sites:
        available = {site.name: site for site in default_sites(args.layout)}
        names = [name.strip() for name in args.sites.split(",") if name.strip()]
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ConfigurationError(f"unknown site(s) {', '.join(unknown)} for layout {args.layout}; available: "
                                     f"{', '.join(available)}")
        sites = [available[name] for name in names]
    out = generate_cohort(args.out, args.layout, args.cases, args.seed, sites, args.workers, args.overwrite,
                          flair=args.flair, empty_fraction=args.empty_fraction, cache_dir=args.cache_dir,
                          montage_cases=args.montage_cases)
    print(f"wrote {args.cases} {args.layout} phantom case(s) to {out}")
    if args.montage_cases > 0:
        print(f"montage: {out / MONTAGE_FILE}")
    return 0
