"""Is an image file complete? Checks that catch a cut-off or damaged NIfTI file before its voxels are used.

SimpleITK's NIfTI reader fills the voxels missing from a truncated file with zeros and ignores the gzip
checksum, so a label mask cut off mid-copy reads as a smaller lesion without any error. This module checks a
NIfTI file (``.nii`` or ``.nii.gz``, NIfTI-1 or NIfTI-2, either byte order) against its own header:

* the header must parse (known datatype, non-negative dimensions);
* the file must hold at least ``vox_offset + prod(dim[1..dim[0]]) × bytes per voxel`` bytes (after
  decompression for ``.nii.gz``);
* a ``.nii.gz`` must end with a complete gzip stream whose CRC-32 and length (ISIZE) match its content.

The gzip stream is decompressed in bounded chunks and discarded, so the check costs about one extra read of
the file and little memory (benchmarks/RESULTS.md has the figure).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import nibabel as nib
import numpy as np

from strokeseg.errors import CorruptImageError

#: Size of the compressed chunks read from a ``.nii.gz`` file (bytes).
_READ_CHUNK = 1 << 20
#: Largest decompressed piece held in memory at once (bytes); all-zero masks expand ~1000-fold.
_MAX_PIECE = 8 << 20
#: Bytes of the NIfTI-2 header, the longer of the two versions.
_HEADER_BYTES = 540
_GZIP_MAGIC = b"\x1f\x8b"
_WHAT_TO_DO = "copy the file again from its source (an interrupted copy or download leaves such files)"


@dataclass(frozen=True)
class NiftiLayout:
    """What a NIfTI header says about the file: voxel array shape and type, where the voxels start (bytes)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    data_offset: int

    @property
    def expected_bytes(self) -> int:
        """Smallest possible size of the (decompressed) file: the header, extensions and every voxel."""
        return self.data_offset + int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def check_image_complete(path: Path, what: str = "image") -> None:
    """Raise CorruptImageError unless the NIfTI file ``path`` is complete and, if gzip-compressed, intact.

    Other formats are left to their reader. ``what`` says what the file is (``"reference"``) for the message.

    Raises:
        CorruptImageError: the header is damaged, the file holds fewer bytes than its header declares, or
            the gzip stream is cut off or fails its checksum. The message names the file and what to do.
    """
    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return
    with path.open("rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        if gzipped:
            head, size = _gzip_head_and_size(handle, path, what)
        else:
            head, size = handle.read(_HEADER_BYTES), path.stat().st_size
    layout = nifti_layout(head, path, what)
    if size < layout.expected_bytes:
        shape = "×".join(map(str, layout.shape))
        raise CorruptImageError(
            f"{what} {path} is incomplete: its header declares {layout.expected_bytes} bytes (a {shape} "
            f"{layout.dtype.name} volume from byte {layout.data_offset}) but the file holds {size}"
            f"{' once decompressed' if gzipped else ''}; {_WHAT_TO_DO}")


def nifti_layout(head: bytes, path: Path, what: str = "image") -> NiftiLayout:
    """Parse the first bytes of a (decompressed) NIfTI-1/2 file.

    Raises:
        CorruptImageError: the bytes are not a valid NIfTI-1 or NIfTI-2 header.
    """
    header_class = _header_class(head)
    if header_class is None:
        raise CorruptImageError(f"{what} {path} has no valid NIfTI header (its first bytes are neither a "
                                f"NIfTI-1 nor a NIfTI-2 header); {_WHAT_TO_DO}")
    try:
        header = header_class.from_fileobj(io.BytesIO(head), check=True)
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        offset = int(header.get_data_offset())
    except (nib.spatialimages.HeaderDataError, nib.spatialimages.HeaderTypeError, KeyError, ValueError) as error:
        raise CorruptImageError(f"{what} {path} has a damaged NIfTI header ({error}); {_WHAT_TO_DO}") from None
    if any(n < 0 for n in shape) or offset < 0:
        raise CorruptImageError(f"{what} {path} has a damaged NIfTI header (dimensions {shape}, data offset "
                                f"{offset}); {_WHAT_TO_DO}")
    return NiftiLayout(shape, dtype, offset)


def _header_class(head: bytes) -> type[nib.Nifti1Header] | None:
    """Nifti1Header or Nifti2Header by the ``sizeof_hdr`` field (either byte order), else None."""
    if len(head) < 4:
        return None
    for order in ("<", ">"):
        sizeof_hdr = int(np.frombuffer(head[:4], dtype=f"{order}i4")[0])
        if sizeof_hdr == 348 and len(head) >= 348:
            return nib.Nifti1Header
        if sizeof_hdr == 540 and len(head) >= 540:
            return nib.Nifti2Header
    return None


def _gzip_head_and_size(handle: BinaryIO, path: Path, what: str) -> tuple[bytes, int]:
    """(first decompressed bytes, decompressed size) of a gzip file, checking every member's CRC and length.

    Raises:
        CorruptImageError: the stream is cut off or damaged.
    """
    head = b""
    size = 0
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while chunk := handle.read(_READ_CHUNK):
            pending = chunk
            while pending:
                if decompressor.eof:  # one gzip member ended: another member follows, or trailing bytes
                    if not pending.startswith(_GZIP_MAGIC):
                        return head, size  # bytes after the last member are ignored, as gzip does
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                piece = decompressor.decompress(pending, _MAX_PIECE)
                if len(head) < _HEADER_BYTES:
                    head += piece[: _HEADER_BYTES - len(head)]
                size += len(piece)
                pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        if not decompressor.eof:
            size += len(decompressor.flush())
    except zlib.error as error:
        raise CorruptImageError(f"{what} {path} is damaged: its gzip stream fails to decompress ({error}); "
                                f"{_WHAT_TO_DO}") from None
    if not decompressor.eof:
        raise CorruptImageError(f"{what} {path} is incomplete: its gzip stream ends early (after {size} "
                                f"decompressed bytes); {_WHAT_TO_DO}")
    return head, size
