"""A PNG montage of a few phantom cases, so that a user can look at a generated cohort."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from strokeseg.io import atomic_path


def _display_slice(image: sitk.Image, label: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """The axial slice through the label's largest cross-section (or the middle), in radiological display."""
    oriented_image = sitk.DICOMOrient(image, "LPS")  # rows anterior->posterior, columns right->left on screen
    oriented_label = sitk.DICOMOrient(label, "LPS")
    array = sitk.GetArrayFromImage(oriented_image).astype(np.float32)
    mask = sitk.GetArrayFromImage(oriented_label)
    areas = (mask > 0).sum(axis=(1, 2))
    z = int(areas.argmax()) if areas.any() else array.shape[0] // 2
    return array[z], mask[z]


def write_montage(cases: Sequence[tuple[str, dict[str, sitk.Image], sitk.Image]], target: Path,
                  channels: Sequence[str]) -> Path:
    """Write a montage: one row per case, one column per channel plus the label outlined on the first channel.

    Args:
        cases: (case id, images by channel name, label map) per row.
        target: PNG path (written atomically).
        channels: channel names to show, in column order (missing channels are skipped).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [*channels, "label"]
    figure, axes = plt.subplots(len(cases), len(columns), figsize=(2.6 * len(columns), 2.6 * len(cases)),
                                squeeze=False, facecolor="black")
    for row, (case_id, images, label) in enumerate(cases):
        shown = [name for name in channels if name in images]
        first_slice = None
        for column, name in enumerate(columns):
            axis = axes[row][column]
            axis.set_axis_off()
            if name == "label" and first_slice is not None:
                background, mask = first_slice
                axis.imshow(background, cmap="gray", vmin=0, vmax=np.percentile(background, 99.5) or 1)
                if mask.any():
                    axis.contour(mask > 0, levels=[0.5], colors="red", linewidths=0.8)
                    if (mask > 1).any():
                        axis.contour(mask > 1, levels=[0.5], colors="cyan", linewidths=0.8)
                axis.set_title("label", color="white", fontsize=8)
            elif name in shown:
                pixels, mask = _display_slice(images[name], images.get("_label_for_" + name, label))
                if first_slice is None:
                    first_slice = (pixels, mask)
                axis.imshow(pixels, cmap="gray", vmin=0, vmax=np.percentile(pixels, 99.5) or 1)
                axis.set_title(f"{case_id} {name}" if column == 0 else name, color="white", fontsize=8)
    figure.tight_layout()
    with atomic_path(target) as temporary:
        figure.savefig(temporary, dpi=90, facecolor="black")
    plt.close(figure)
    return target
