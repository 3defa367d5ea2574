"""Cost of the completeness check of image files (``strokeseg.image_integrity``) beside the read it guards.

On two grids (DWI 256×256×30 at 0.9×0.9×5 mm; ATLAS/MNI 197×233×189 at 1 mm) and two contents (a uint8
lesion mask and a float32 image), written as ``.nii.gz`` by SimpleITK, this times:

* ``check``: :func:`strokeseg.image_integrity.check_image_complete` alone (streaming gzip decompression,
  CRC-32/ISIZE and byte count against the header);
* ``sitk.ReadImage``: the plain SimpleITK read (the peer, no check);
* ``unchecked``: what strokeseg's ``read_array`` did before the check: SimpleITK read + nibabel's NaN count of
  a float file (reading its voxels a second time);
* ``read_array``: strokeseg's whole read now (check with the NaN count on the way + SimpleITK).

Printed: best of ``--repeats`` runs per cell (file cache warm), the check as a share of the plain read, and
``read_array`` against the unchecked read.

Run: ``.venv/bin/python benchmarks/bench_reading.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from strokeseg.image_integrity import check_image_complete
from strokeseg.io import read_array
from strokeseg.synthetic.lesion_pairs import lesion_pair

GRIDS: dict[str, tuple[tuple[int, int, int], tuple[float, float, float]]] = {
    "DWI 256x256x30": ((30, 256, 256), (5.0, 0.9, 0.9)),
    "MNI 197x233x189": ((189, 233, 197), (1.0, 1.0, 1.0)),
}


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` timed calls (s), after one untimed call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def unchecked_read(path: Path) -> int:
    """The read without the completeness check: SimpleITK, then nibabel's NaN/inf count for float data."""
    sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    proxy = nib.load(str(path))
    if not np.issubdtype(proxy.get_data_dtype(), np.floating):
        return 0
    data = np.asarray(proxy.dataobj)
    return int(data.size - np.count_nonzero(np.isfinite(data)))


def write(array: np.ndarray, spacing_zyx: tuple[float, float, float], path: Path) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(reversed(spacing_zyx)))
    sitk.WriteImage(image, str(path), True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{platform.machine()}, Python {platform.python_version()}, SimpleITK {sitk.Version_VersionString()}")
    print(f"{'file':<34} {'MB (gz)':>8} {'check s':>8} {'sitk.ReadImage s':>17} {'unchecked s':>12} "
          f"{'read_array s':>13} {'check/read':>11} {'read_array/unchecked':>21}")
    with tempfile.TemporaryDirectory() as folder:
        for grid, (shape, spacing) in GRIDS.items():
            mask, _ = lesion_pair(shape, spacing, rng)
            image = (rng.normal(100.0, 20.0, shape) * (1 + mask)).astype(np.float32)
            for content, array in (("uint8 mask", mask.astype(np.uint8)), ("float32 image", image)):
                path = write(array, spacing, Path(folder) / f"{content.split()[1]}_{shape[0]}.nii.gz")
                check = best_of(lambda path=path: check_image_complete(path), arguments.repeats)
                plain = best_of(lambda path=path: sitk.ReadImage(str(path)), arguments.repeats)
                before = best_of(lambda path=path: unchecked_read(path), arguments.repeats)
                full = best_of(lambda path=path: read_array(path), arguments.repeats)
                print(f"{grid + ', ' + content:<34} {path.stat().st_size / 1e6:>8.2f} {check:>8.4f} {plain:>17.4f} "
                      f"{before:>12.4f} {full:>13.4f} {check / plain:>10.0%} {full / before:>20.2f}×")


if __name__ == "__main__":
    main()
