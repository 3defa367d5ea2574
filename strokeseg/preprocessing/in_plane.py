"""Fixed in-plane size: resample every case's slices onto the same number of rows and columns.

Some papers resample each slice to a fixed matrix (e.g. 224 x 224) whatever its field of view, instead of
resampling to a common spacing as nnU-Net does. A plans configuration asks for this with two keys:

* ``strokeseg_in_plane_size``: ``[rows, cols]``, the in-plane size every case's full slice is resampled to;
* ``strokeseg_in_plane_order``: spline order of the image interpolation (0 nearest, 1 linear, 3 cubic B-spline;
  default: the plans' own ``resampling_fn_data_kwargs`` order). Label maps are resampled as nnU-Net resamples
  them (the plans' ``resampling_fn_seg``), predictions are exported with the plans' probability resampling.

Convention: axes are nnU-Net's transposed axes (``transpose_forward`` applied), whose first axis is the slice
axis (the axis 2D configurations slice along); the other two are the in-plane rows and columns. The *full*
slice (before nnU-Net's crop to the nonzero region) is mapped onto ``rows x cols``: each case gets its own
in-plane target spacing ``spacing * shape / size`` (mm), the slice axis keeps its spacing and number of slices.
nnU-Net's crop to the nonzero region then keeps the part of that grid that holds the image, so a case without
an all-zero border is exactly ``rows x cols``. Because the per-case target spacing goes through nnU-Net's own
resampling step, ``nnUNetv2_predict`` resamples predictions back to each case's original geometry unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from strokeseg.errors import ConfigurationError

#: Configuration key: ``[rows, cols]`` every case's slices are resampled to.
KEY_IN_PLANE_SIZE = "strokeseg_in_plane_size"
#: Configuration key: spline order of the in-plane image interpolation (1 linear, 3 B-spline).
KEY_IN_PLANE_ORDER = "strokeseg_in_plane_order"
#: Spline orders nnU-Net's resampling (scipy / skimage) accepts.
SPLINE_ORDERS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


def in_plane_spacing(shape: Sequence[int], spacing: Sequence[float], size: Sequence[int]) -> list[float]:
    """Per-case target spacing (mm) that maps a full ``shape`` volume's slices onto ``size`` in-plane.

    Args:
        shape: the case's shape in nnU-Net's transposed axes ``(slices, rows, cols)``.
        spacing: its voxel spacing in the same axes (mm).
        size: target ``(rows, cols)``.

    Returns:
        ``[slice spacing, row spacing, col spacing]`` in mm; the slice spacing is the case's own.
    """
    if len(shape) != 3 or len(spacing) != 3:
        raise ConfigurationError(f"{KEY_IN_PLANE_SIZE} needs 3D cases (slices, rows, cols), got shape {list(shape)}")
    return [float(spacing[0]), *(float(spacing[axis]) * shape[axis] / size[axis - 1] for axis in (1, 2))]


def check_in_plane_settings(configuration: Mapping[str, Any]) -> tuple[tuple[int, int], int | None] | None:
    """``((rows, cols), order)`` asked for by a plans configuration; None when it has no in-plane size.

    Raises:
        ConfigurationError: the size is not two positive integers or the order no spline order 0-5.
    """
    size = configuration.get(KEY_IN_PLANE_SIZE)
    order = configuration.get(KEY_IN_PLANE_ORDER)
    if size is None:
        if order is not None:
            raise ConfigurationError(f"plans configuration sets {KEY_IN_PLANE_ORDER} without {KEY_IN_PLANE_SIZE}; "
                                     f"add {KEY_IN_PLANE_SIZE}: [rows, cols] or remove the order")
        return None
    if (not isinstance(size, Sequence) or isinstance(size, str) or len(size) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size)):
        raise ConfigurationError(f"plans key {KEY_IN_PLANE_SIZE} must be [rows, cols] (two positive integers), "
                                 f"got {size!r}")
    if order is not None and (isinstance(order, bool) or order not in SPLINE_ORDERS):
        raise ConfigurationError(f"plans key {KEY_IN_PLANE_ORDER} must be a spline order in {list(SPLINE_ORDERS)} "
                                 f"(1 linear, 3 B-spline), got {order!r}")
    return (size[0], size[1]), order


def in_plane_configuration(configuration: Mapping[str, Any], shape: Sequence[int],
                           spacing: Sequence[float]) -> dict[str, Any] | None:
    """A copy of a plans configuration whose target spacing maps this case's slices onto the in-plane size.

    ``spacing`` keeps the configuration's number of entries (2 for 2D, 3 for 3D configurations), the image
    resampling gets the in-plane spline order; everything else is unchanged. None when the configuration has
    no ``strokeseg_in_plane_size``.

    Args:
        configuration: one configuration of the plans (a mapping as in plans.json).
        shape: the case's full shape in nnU-Net's transposed axes (before cropping).
        spacing: its spacing in the same axes (mm).
    """
    settings = check_in_plane_settings(configuration)
    if settings is None:
        return None
    size, order = settings
    target = in_plane_spacing(shape, spacing, size)
    adapted = dict(configuration)
    adapted["spacing"] = target[-len(configuration["spacing"]):]
    if order is not None:
        adapted["resampling_fn_data_kwargs"] = {**configuration["resampling_fn_data_kwargs"], "order": order}
    return adapted
