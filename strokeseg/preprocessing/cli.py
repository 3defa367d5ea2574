"""``strokeseg preprocess``: one case through a plans' preprocessing, written out for review.

Writes, on the case's own grid (everything nnU-Net's preprocessor does except resampling):
``brain_mask.nii.gz`` (the skull-strip mask, when one is computed), ``prepared_XXXX.nii.gz`` (each channel
after skull strip, N4 and ADC unit conversion), ``normalized_XXXX.nii.gz`` (what the network sees) and
``report.json`` (settings, schemes, brain volume, fallbacks taken). nnU-Net, numpy and the image I/O are
imported when the command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strokeseg.cli_options import add_command, add_images, add_out, add_overwrite
from strokeseg.errors import ConfigurationError, InputDataError, OutputExistsError

if TYPE_CHECKING:
    from nnunetv2.preprocessing.normalization.default_normalization_schemes import ImageNormalization

    from strokeseg.io import Geometry
    from strokeseg.preprocessing.review import NormalizationPlan, ReviewedCase
    from strokeseg.preprocessing.settings import CasePreparation

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Run a strokeseg plans' preprocessing on one case and write, on the case's own grid (everything nnU-Net's
preprocessor does except resampling): brain_mask.nii.gz (the skull-strip mask, when one is computed),
prepared_XXXX.nii.gz (each channel after skull strip, N4 and ADC unit conversion), normalized_XXXX.nii.gz (what
the network sees) and report.json (settings, schemes, brain volume, fallbacks taken).

Examples:

    strokeseg preprocess --plans $nnUNet_preprocessed/Dataset501_X/strokesegDWIPlans.json \\
        -i case_0000.nii.gz case_0001.nii.gz -o review/case
    strokeseg preprocess --channels DWI ADC -i dwi.nii.gz adc.nii.gz -o review/case --n4-shrink-mm 4
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg preprocess`` to the CLI."""
    parser = add_command(subparsers, "preprocess", "run a strokeseg plans' preprocessing on one case and write the "
                                                   "result for review", DESCRIPTION)
    add_images(parser, "the case's image files in channel order (nnU-Net's _0000, _0001, ...)", nargs="+",
               required=True)
    add_out(parser, "folder for the review files")
    parser.add_argument("--plans", type=Path, help="plans JSON written by a strokeseg planner; the dataset.json "
                                                   "beside it gives the channel names")
    parser.add_argument("-c", "--configuration", default="3d_fullres", help="configuration of the plans "
                                                                            "(default: %(default)s)")
    parser.add_argument("--channels", nargs="+", help="channel names (DWI, ADC, b0, FLAIR, T1w, ...); required "
                                                      "without --plans, overrides the plans' dataset.json")
    override = parser.add_argument_group("overrides (default: the plans' values, else strokeseg's defaults)")
    override.add_argument("--no-skull-strip", action="store_true", help="do not zero voxels outside the mask")
    override.add_argument("--no-n4", action="store_true", help="skip N4 bias-field correction")
    override.add_argument("--sigma-mm", type=float, help="Gaussian blur before the Otsu threshold (mm)")
    override.add_argument("--min-brain-ml", type=float, help="smallest brain mask accepted (mL)")
    override.add_argument("--n4-shrink-mm", type=float, help="N4 is fitted on voxels of about this size (mm)")
    override.add_argument("--n4-levels", type=int, help="N4 resolution levels")
    override.add_argument("--n4-iterations", type=int, help="N4 iterations per level at most")
    add_overwrite(parser, "the review files in --out")
    parser.set_defaults(func=_cli_preprocess)


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputDataError(f"{what} {path} does not exist") from None
    except ValueError as error:
        raise InputDataError(f"{what} {path} is not valid JSON ({error})") from None


def _scheme(name: str) -> type[ImageNormalization]:
    import nnunetv2
    from batchgenerators.utilities.file_and_folder_operations import join
    from nnunetv2.utilities.find_class_by_name import recursive_find_python_class

    found = recursive_find_python_class(join(nnunetv2.__path__[0], "preprocessing", "normalization"), name,
                                        "nnunetv2.preprocessing.normalization")
    if found is None:
        raise ConfigurationError(f"normalization scheme {name!r} of the plans is not known to nnU-Net; run "
                                 "`strokeseg nnunet install`")
    return found


def _from_plans(args: argparse.Namespace) -> tuple[list[str], CasePreparation, NormalizationPlan]:
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from strokeseg.preprocessing.preprocessors import case_preparation, channel_names
    from strokeseg.preprocessing.review import NormalizationPlan

    plans = PlansManager(_load_json(args.plans, "plans file"))
    if args.configuration not in plans.available_configurations:
        raise ConfigurationError(f"{args.plans} has no configuration {args.configuration!r} (available: "
                                 f"{', '.join(plans.available_configurations)})")
    configuration = plans.get_configuration(args.configuration)
    dataset_json = args.plans.parent / "dataset.json"
    if args.channels:
        names = list(args.channels)
    elif dataset_json.is_file():
        names = channel_names(_load_json(dataset_json, "dataset.json"))
    else:
        raise ConfigurationError(f"no dataset.json beside {args.plans}; pass --channels")
    plan = NormalizationPlan(tuple(_scheme(name) for name in configuration.normalization_schemes),
                             tuple(configuration.use_mask_for_norm), tuple(plans.transpose_forward))
    return names, case_preparation(configuration.configuration, names), plan


def _from_channels(names: list[str], spacing: tuple[float, ...]) -> tuple[CasePreparation, NormalizationPlan]:
    from strokeseg.masks import slice_axis_of
    from strokeseg.preprocessing.normalization import normalization_for_channel
    from strokeseg.preprocessing.review import NormalizationPlan
    from strokeseg.preprocessing.settings import CasePreparation

    schemes = tuple(normalization_for_channel(name) for name in names)
    first = slice_axis_of(spacing)  # nnU-Net puts the coarsest axis first
    plan = NormalizationPlan(schemes, tuple(bool(s.leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true)
                                            for s in schemes),
                             (first, *(axis for axis in range(len(spacing)) if axis != first)))
    return CasePreparation.for_channels(names), plan


def _with_overrides(preparation: CasePreparation, args: argparse.Namespace) -> CasePreparation:
    changes: dict[str, Any] = {}
    if args.no_skull_strip:
        changes["foreground_mask"] = False
    if args.no_n4:
        changes["n4_channels"] = ()
    for flag, field in (("sigma_mm", "skull_strip_sigma_mm"), ("min_brain_ml", "min_brain_ml"),
                        ("n4_shrink_mm", "n4_shrink_spacing_mm"), ("n4_levels", "n4_levels"),
                        ("n4_iterations", "n4_iterations")):
        if getattr(args, flag) is not None:
            changes[field] = getattr(args, flag)
    return dataclasses.replace(preparation, **changes)


def _write(reviewed: ReviewedCase, geometry: Geometry, out: Path) -> list[Path]:
    import numpy as np

    from strokeseg.io import array_to_image, write_image_atomic

    written = []
    if reviewed.prepared.brain_mask is not None:
        written.append(write_image_atomic(array_to_image(reviewed.prepared.brain_mask.astype(np.uint8), geometry),
                                          out / "brain_mask.nii.gz"))
    for stage, data in (("prepared", reviewed.prepared.data), ("normalized", reviewed.normalized)):
        for channel, array in enumerate(data):
            written.append(write_image_atomic(array_to_image(array.astype(np.float32), geometry),
                                              out / f"{stage}_{channel:04d}.nii.gz"))
    return written


def _cli_preprocess(args: argparse.Namespace) -> int:
    import numpy as np

    from strokeseg.io import read_array, require_same_grid, write_json_atomic
    from strokeseg.preprocessing.review import review_case

    if args.plans is None and not args.channels:
        raise ConfigurationError("pass --plans (a strokeseg planner's plans JSON) or --channels")
    if args.out.exists() and any(args.out.iterdir()) and not args.overwrite:
        raise OutputExistsError(f"{args.out} is not empty; pass --overwrite to replace its review files")
    arrays, geometry = [], None
    for path in args.images:
        array, geometry_of_path = read_array(path)
        if geometry is None:
            geometry = geometry_of_path
        else:
            require_same_grid(args.images[0], path)
        arrays.append(array)
    assert geometry is not None  # argparse requires at least one image
    spacing = tuple(float(s) for s in reversed(geometry.spacing))
    if args.plans is not None:
        names, preparation, plan = _from_plans(args)
    else:
        names = list(args.channels)
        preparation, plan = _from_channels(names, spacing)
    if len(names) != len(arrays) or len(plan.schemes) != len(arrays):
        raise ConfigurationError(f"{len(arrays)} image(s) given for {len(names)} channel(s) {names}")
    preparation = _with_overrides(preparation, args)
    reviewed = review_case(np.stack(arrays), spacing, preparation, plan, names)
    for warning in reviewed.prepared.warnings:
        logger.warning("%s: %s", args.images[0], warning)
    args.out.mkdir(parents=True, exist_ok=True)
    written = _write(reviewed, geometry, args.out)
    report = {"images": [str(p) for p in args.images], "channels": names, "settings": preparation.to_plans(),
              "normalization_schemes": [s.__name__ for s in plan.schemes],
              "use_mask_for_norm": list(plan.use_mask_for_norm), **reviewed.prepared.provenance()}
    written.append(write_json_atomic(args.out / "report.json", report))
    volume = reviewed.prepared.brain_volume_ml
    print(f"{args.images[0]}: brain mask {'-' if volume is None else f'{volume:.1f} mL'}, N4 on channels "
          f"{list(reviewed.prepared.n4_channels) or 'none'}, schemes {[s.__name__ for s in plan.schemes]}")
    for path in written:
        print(f"  {path}")
    return 0
