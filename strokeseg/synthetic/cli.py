"""``strokeseg synth``: write a phantom cohort in one of the real on-disk layouts."""

from __future__ import annotations

import argparse

from strokeseg.cli_options import (
    add_atlas_options,
    add_command,
    add_option,
    add_out,
    add_overwrite,
    add_seed,
    add_workers,
    positive_int,
)
from strokeseg.errors import ConfigurationError
from strokeseg.synthetic.choices import LAYOUTS, SITE_SETS

DESCRIPTION = """\
Generate a multi-site phantom cohort from the packaged MNI152 template: DWI/ADC/b0 (+FLAIR) with acute infarcts
(registry, isles22), T1w with chronic lesions in MNI space (atlas2), or FLAIR/T1 with WMH and infarcts (wmh; as
a FLAIR-only registry manifest with infarct masks: wmh-registry). A montage.png of the first cases is written
beside it.

A rerun with the same settings resumes (finished cases are kept); a cohort made with other settings is only
replaced with --overwrite.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg synth`` to the CLI."""
    parser = add_command(subparsers, "synth", "generate a phantom cohort (registry, ISLES'22, ATLAS R2.0, WMH or "
                                              "FLAIR WMH registry layout)", DESCRIPTION)
    add_out(parser, "output folder")
    parser.add_argument("--layout", choices=LAYOUTS, required=True, help="on-disk layout")
    add_option(parser, "-n", "--n-cases", deprecated=("--cases",), type=positive_int, required=True, metavar="N",
               help="number of cases")
    add_seed(parser, "the cohort")
    add_workers(parser)
    parser.add_argument("--site-set", choices=SITE_SETS, default="default",
                        help="the layout's site set; 'shifted' (registry, isles22) has a documented domain shift "
                             "(default: %(default)s)")
    parser.add_argument("--sites", default=None,
                        help="comma-separated subset of the site set (e.g. HospitalA,HospitalC)")
    flair = parser.add_mutually_exclusive_group()
    flair.add_argument("--flair", dest="flair", action="store_true", default=None, help="also write FLAIR")
    flair.add_argument("--no-flair", dest="flair", action="store_false", help="do not write FLAIR")
    parser.add_argument("--empty-fraction", type=float, default=0.0,
                        help="fraction of cases without a labelled lesion (default: %(default)s)")
    add_atlas_options(parser)
    parser.add_argument("--montage-cases", type=int, default=4, help="cases in montage.png (default: %(default)s)")
    add_overwrite(parser, "a cohort in --out written by synth with other settings")
    parser.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    from strokeseg.synthetic import generate_cohort, site_set
    from strokeseg.synthetic.cohort import MONTAGE_FILE

    sites = site_set(args.layout, args.site_set)
    if args.sites:
        available = {site.name: site for site in sites}
        names = [name.strip() for name in args.sites.split(",") if name.strip()]
        unknown = [name for name in names if name not in available]
        if unknown:
            raise ConfigurationError(f"unknown site(s) {', '.join(unknown)} in the {args.site_set} sites of layout "
                                     f"{args.layout}; available: {', '.join(available)}")
        sites = tuple(available[name] for name in names)
    out = generate_cohort(args.out, args.layout, args.n_cases, args.seed, sites, args.workers, args.overwrite,
                          flair=args.flair, empty_fraction=args.empty_fraction, cache_dir=args.cache_dir,
                          montage_cases=args.montage_cases)
    print(f"wrote {args.n_cases} {args.layout} phantom case(s) to {out}")
    if args.montage_cases > 0:
        print(f"montage: {out / MONTAGE_FILE}")
    return 0
