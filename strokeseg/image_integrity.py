"""Is an image file complete? Checks that catch a cut-off or damaged NIfTI file before its voxels are used.

SimpleITK's NIfTI reader fills the voxels missing from a truncated file with zeros and ignores the gzip
checksum, so a label mask cut off mid-copy reads as a smaller lesion without any error. This module checks a
NIfTI file (``.nii`` or ``.nii.gz``, NIfTI-1 or NIfTI-2, either byte order) against its own header:

* the header must parse (known datatype, non-negative dimensions);
* the file must hold at least ``vox_offset + prod(dim[1..dim[0]]) × bytes per voxel`` bytes (after
  decompression for ``.nii.gz``);
* a ``.nii.gz`` must end with a complete gzip stream whose CRC-32 and length (ISIZE) match its content.

The gzip stream is decompressed in bounded pieces and discarded, so the check costs about one extra
decompression of the file and little memory (benchmarks/RESULTS.md has the figure). The NaN/±inf voxels of a
floating-point file are counted on the way (SimpleITK would read them as 0), so no third read is needed.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
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


def check_image_complete(path: Path, what: str = "image") -> int:
    """Raise CorruptImageError unless the NIfTI file ``path`` is complete and, if gzip-compressed, intact.

    The voxels pass by on the way, so the NaN/±inf voxels of a floating-point file are counted too (SimpleITK
    reads them as 0; the count lets readers refuse such files without reading them again). Other formats are
    left to their reader (count 0). ``what`` says what the file is (``"reference"``) for the message.

    Returns:
        The number of NaN or infinite voxels stored (0 for integer datatypes and other formats).

    Raises:
        CorruptImageError: the header is damaged, the file holds fewer bytes than its header declares, or
            the gzip stream is cut off or fails its checksum. The message names the file and what to do.
        OSError: the file cannot be opened (e.g. PermissionError).
    """
    name = path.name.lower()
    if not name.endswith((".nii", ".nii.gz")):
        return 0
    with path.open("rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
        handle.seek(0)
        if gzipped:
            pieces: Iterator[bytes] = _inflate(handle, path, what)
        else:
            pieces = iter(lambda: handle.read(_READ_CHUNK), b"")
        counter = _VoxelScan(path, what)
        for piece in pieces:
            counter.feed(piece)
        layout = counter.finish()
    if counter.size < layout.expected_bytes:
        shape = "×".join(map(str, layout.shape))
        raise CorruptImageError(
            f"{what} {path} is incomplete: its header declares {layout.expected_bytes} bytes (a {shape} "
            f"{layout.dtype.name} volume from byte {layout.data_offset}) but the file holds {counter.size}"
            f"{' once decompressed' if gzipped else ''}; {_WHAT_TO_DO}")
    return counter.nonfinite


class _VoxelScan:
    """Follows the (decompressed) bytes of a NIfTI file piece by piece: its size, its header, and the NaN/±inf
    voxels of a floating-point volume (the voxel bytes are examined in whole items, a partial item carried
    over to the next piece)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self.size = 0
        self.nonfinite = 0
        self._head = b""
        self._waiting: list[bytes] = []
        self._layout: NiftiLayout | None = None
        self._carry = b""

    def feed(self, piece: bytes) -> None:
        if self._layout is None:
            self._waiting.append(piece)
            self._head += piece[: _HEADER_BYTES - len(self._head)]
            if len(self._head) >= _HEADER_BYTES:
                self._start()
            return
        self._count(piece)

    def finish(self) -> NiftiLayout:
        """The header's layout, once every piece was fed."""
        return self._layout if self._layout is not None else self._start()

    def _start(self) -> NiftiLayout:
        """Parse the header, then examine the pieces that arrived before it was complete."""
        self._layout = layout = nifti_layout(self._head, self.path, self.what)
        waiting, self._waiting = self._waiting, []
        for piece in waiting:
            self._count(piece)
        return layout

    def _count(self, piece: bytes) -> None:
        layout = self._layout
        start, self.size = self.size, self.size + len(piece)
        if layout is None or not np.issubdtype(layout.dtype, np.inexact):
            return
        end_of_data = layout.expected_bytes
        first, last = max(layout.data_offset - start, 0), min(end_of_data - start, len(piece))
        if first >= last:
            return
        data = self._carry + piece[first:last]
        whole = len(data) - len(data) % layout.dtype.itemsize
        values = np.frombuffer(data[:whole], dtype=layout.dtype)
        self.nonfinite += int(values.size - np.count_nonzero(np.isfinite(values)))
        self._carry = data[whole:]


def nifti_layout(head: bytes, path: Path, what: str = "image") -> NiftiLayout:
    """Parse the first bytes of a (decompressed) NIfTI-1/2 file.

    Raises:
        CorruptImageError: the bytes are not a valid NIfTI-1 or NIfTI-2 header.
    """
    header_class = _header_class(head)
    if header_class is None:
        raise CorruptImageError(f"{what} {path} could not be read: it has no valid NIfTI header (its first bytes "
                                f"are neither a NIfTI-1 nor a NIfTI-2 header); {_WHAT_TO_DO}")
    try:  # no nibabel checks: fields SimpleITK tolerates (magic, qform codes) are left to the reader
        header = header_class.from_fileobj(io.BytesIO(head), check=False)
        shape = tuple(int(n) for n in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        offset = int(header.get_data_offset())
    except KeyError as error:  # nibabel's datatype lookup
        raise CorruptImageError(f"{what} {path} could not be read: its NIfTI header is damaged (unknown datatype "
                                f"code {error}); {_WHAT_TO_DO}") from None
    except (nib.spatialimages.HeaderDataError, nib.spatialimages.HeaderTypeError, ValueError) as error:
        raise CorruptImageError(f"{what} {path} could not be read: its NIfTI header is damaged ({error}); "
                                f"{_WHAT_TO_DO}") from None
    if any(n < 0 for n in shape) or offset < 0:
        raise CorruptImageError(f"{what} {path} could not be read: its NIfTI header is damaged (dimensions "
                                f"{shape}, data offset {offset}); {_WHAT_TO_DO}")
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


def _inflate(handle: BinaryIO, path: Path, what: str) -> Iterator[bytes]:
    """The decompressed content of a gzip file in pieces of at most ``_MAX_PIECE`` bytes; every member's
    CRC-32 and length are checked (by zlib) and the stream must end.

    Raises:
        CorruptImageError: the stream is cut off or damaged.
    """
    size = 0
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while chunk := handle.read(_READ_CHUNK):
            pending = chunk
            while pending:
                if decompressor.eof:  # one gzip member ended: another member follows, or trailing bytes
                    if not pending.startswith(_GZIP_MAGIC):
                        return  # bytes after the last member are ignored, as gzip does
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                piece = decompressor.decompress(pending, _MAX_PIECE)
                size += len(piece)
                yield piece
                pending = decompressor.unused_data if decompressor.eof else decompressor.unconsumed_tail
        if not decompressor.eof:
            rest = decompressor.flush()
            size += len(rest)
            yield rest
    except zlib.error as error:
        raise CorruptImageError(f"{what} {path} is damaged: its gzip stream fails to decompress ({error}); "
                                f"{_WHAT_TO_DO}") from None
    if not decompressor.eof:
        raise CorruptImageError(f"{what} {path} is incomplete: its gzip stream ends early (after {size} "
                                f"decompressed bytes); {_WHAT_TO_DO}")
