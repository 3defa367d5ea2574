"""The QC figure of one case: axial, coronal and sagittal slices through the largest lesion.

The image and masks are reoriented to LPS first, so the panels follow the radiological convention (the
patient's right on the left of the axial and coronal panels, anterior at the top of the axial panel,
superior at the top of the others) whatever the stored orientation. The prediction is outlined in red (thin),
the reference in green (wide, underneath); the image is windowed between the 1st and 99.5th percentiles of
its non-zero voxels.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen before pyplot is imported
import numpy as np
import SimpleITK as sitk
from matplotlib.lines import Line2D
from scipy import ndimage

from strokeseg.io import array_to_image, atomic_path
from strokeseg.lesions import label_lesions

PREDICTION_COLOUR = "red"
REFERENCE_COLOUR = "lime"


def largest_lesion_centre(mask: np.ndarray) -> tuple[int, int, int] | None:
    """Voxel index (z, y, x) nearest the centre of mass of the mask's largest component; None when empty."""
    labels, count = label_lesions(mask)
    if count == 0:
        return None
    largest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    component = labels == largest
    centre = np.round(ndimage.center_of_mass(component)).astype(int)
    if not component[tuple(centre)]:  # a curved lesion: take its voxel nearest the centre of mass
        voxels = np.argwhere(component)
        centre = voxels[np.argmin(((voxels - centre) ** 2).sum(axis=1))]
    return int(centre[0]), int(centre[1]), int(centre[2])


def _oriented(array: np.ndarray, like: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.DICOMOrient(array_to_image(array, like), "LPS"))


def write_qc_png(image: sitk.Image, prediction: np.ndarray, target: Path, *, reference: np.ndarray | None = None,
                 title: str = "") -> Path:
    """Write the three-panel QC PNG of one case (atomically).

    Args:
        image: the case image (DWI or another channel), 3-D scalar.
        prediction: predicted lesion mask (z, y, x) on the image's grid.
        target: the PNG file.
        reference: reference lesion mask on the same grid, outlined when given.
        title: figure title (case ID, volume, ...).
    """
    oriented_image = sitk.DICOMOrient(image, "LPS")
    intensities = sitk.GetArrayFromImage(oriented_image).astype(np.float32)
    spacing_x, spacing_y, spacing_z = oriented_image.GetSpacing()
    # drawn in this order: the wide reference outline stays visible under the prediction's
    masks: dict[str, tuple[np.ndarray, float]] = {}
    if reference is not None:
        masks[REFERENCE_COLOUR] = (_oriented(np.asarray(reference, dtype=np.uint8), image), 1.8)
    masks[PREDICTION_COLOUR] = (_oriented(np.asarray(prediction, dtype=np.uint8), image), 0.9)
    centre = (largest_lesion_centre(masks[PREDICTION_COLOUR][0] > 0)
              or (largest_lesion_centre(masks[REFERENCE_COLOUR][0] > 0) if reference is not None else None)
              or tuple(size // 2 for size in intensities.shape))
    z, y, x = centre
    foreground = intensities[intensities > 0]
    low, high = np.percentile(foreground, (1.0, 99.5)) if foreground.size else (0.0, 1.0)
    views = [("axial", (z, slice(None), slice(None)), spacing_y / spacing_x, "upper"),
             ("coronal", (slice(None), y, slice(None)), spacing_z / spacing_x, "lower"),
             ("sagittal", (slice(None), slice(None), x), spacing_z / spacing_y, "lower")]
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.6))
    for axis, (name, index, aspect, origin) in zip(axes, views, strict=True):
        axis.imshow(intensities[index], cmap="gray", vmin=low, vmax=max(high, low + 1e-6), aspect=aspect,
                    origin=origin, interpolation="nearest")
        for colour, (mask, width) in masks.items():
            section = mask[index]
            if section.any():
                axis.contour(section, levels=[0.5], colors=colour, linewidths=width)
        axis.set_title(name)
        axis.set_axis_off()
    handles = [Line2D([0], [0], color=PREDICTION_COLOUR, label="prediction")]
    if reference is not None:
        handles.append(Line2D([0], [0], color=REFERENCE_COLOUR, label="reference"))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.suptitle(title)
    with atomic_path(target) as temporary:
        figure.savefig(temporary, dpi=100, format="png", bbox_inches="tight")
    plt.close(figure)
    return target
