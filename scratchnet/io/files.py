"""Reading files that may be damaged or hostile: checkpoints, weights and datasets from elsewhere.

A file handed to scratchnet can be anything: a checkpoint cut off by a full disk, a half-finished
download, a text file with the wrong name, a named pipe that never ends, or an archive built to
blow up when unpacked. Every reader in ``scratchnet.io`` and ``scratchnet.data`` goes through the
two functions here, so each of those gives one clear error that names the file, never a bare
NumPy or zipfile traceback, and never runs code:

* ``open_regular_file(path, what)`` opens only a regular file. A FIFO, a device (``/dev/zero``
  never ends), a socket or a directory is refused *before* anything is read; the FIFO is opened
  non-blocking, because a plain ``open`` of a FIFO waits forever for a writer.
* ``read_npz(path, what, names)`` reads ``.npy`` arrays from a ``.npz`` (zip) archive without
  pickle, after checking, from the zip directory and each array's ``.npy`` header, that the
  archive holds what it claims and does not expand past the limit below.

The expansion limit
-------------------
A zip member stores its uncompressed size in the zip directory, and zlib shrinks zeros about
1000-fold: a 389 KB ``.npz`` can hold a 400 MB array (a "decompression bomb"). Real data do not
compress like that: MedMNIST's archives expand about 1.2 times, a checkpoint (``np.savez``,
stored without compression) exactly once. So an archive may expand to at most ``max_expansion``
times its size on disk, checked before anything is decompressed:

* ``MAX_EXPANSION = 100``: the default ratio (Apache POI uses the same bound for Office files);
* ``EXPANSION_GRACE_BYTES = 64 MiB``: archives that expand to less than this are always read,
  however well they compress (a small all-zeros mask is not an attack).

Each loader takes ``max_expansion=`` (``float("inf")`` switches the check off for a file you
trust); assigning ``scratchnet.io.files.MAX_EXPANSION`` changes the default everywhere. zipfile
never hands out more bytes than the directory declares (a member that lies fails its CRC check),
and each ``.npy`` header must declare exactly the bytes its member holds, so the check cannot be
talked around.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAX_EXPANSION = 100
EXPANSION_GRACE_BYTES = 64 * 2**20

# Errors that the standard library and NumPy raise for a damaged archive or .npy member.
_LOW_LEVEL_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
    OSError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
)

_NOT_REGULAR = [
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
]


def open_regular_file(path: str | os.PathLike, what: str) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; else a clear error naming ``what``.

    Parameters
    ----------
    path : path
    what : str
        What the file should be, for the messages: ``"scratchnet checkpoint"``,
        ``"MNIST idx file"``.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        With ``what`` and the path in the message.
    ValueError
        For a FIFO, a device or a socket.
    """
    path = Path(path)
    # O_NONBLOCK: opening a FIFO with no writer would otherwise block forever; it changes nothing
    # for a regular file. O_BINARY exists only on Windows.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{what} {path} is a directory, not a file") from None
    except PermissionError:
        raise PermissionError(f"cannot read {what} {path}: permission denied") from None
    except OSError as error:  # e.g. a socket (ENXIO)
        raise ValueError(
            f"cannot open {what} {path}: {error.strerror}; scratchnet reads only regular files"
        ) from None
    try:
        # of the file we opened, so it cannot be swapped after the check
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{what} {path} is a directory, not a file")
        for is_kind, kind in _NOT_REGULAR:
            if is_kind(mode):
                raise ValueError(
                    f"{what} {path} is {kind}, not a regular "
                    "file; scratchnet reads only regular files"
                )
        with contextlib.suppress(AttributeError, OSError):
            # os.set_blocking: POSIX (Windows from 3.12)
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_expansion(
    expanded: int,
    on_disk: int,
    path: str | os.PathLike,
    what: str,
    max_expansion: float | None = None,
) -> None:
    """Refuse a file whose ``on_disk`` bytes would expand to ``expanded`` bytes past the limit.

    ``max_expansion=None`` means the module default ``MAX_EXPANSION`` (read at call time).
    """
    ratio = MAX_EXPANSION if max_expansion is None else max_expansion
    if expanded <= max(EXPANSION_GRACE_BYTES, ratio * on_disk):
        return
    raise ValueError(
        f"{what} {path} would expand from {on_disk:,} bytes on disk to {expanded:,} bytes "
        f"({expanded / max(on_disk, 1):,.0f} times), past the limit of {ratio:g} times "
        "(a decompression bomb, or a damaged size field). If you trust the file, pass "
        "max_expansion=<a larger ratio> (see scratchnet.io.files)"
    )


def describe_start(head: bytes) -> str:
    """What the first bytes of a file look like, for an error message: ``"it is empty"`` ..."""
    if not head:
        return "it is empty (0 bytes)"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not a .npz archive (numpy.load reads it)"
    if head.startswith(b"\x80"):
        return "it is a Python pickle (scratchnet never unpickles: loading a pickle can run code)"
    if head.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return f"it is text, starting {head[:16].decode('ascii')!r}"
    return f"it starts with the bytes {head[:8].hex(' ')}"


def read_npz(
    path: str | os.PathLike,
    what: str,
    names: list[str] | None = None,
    max_expansion: float | None = None,
) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive (all, or those in ``names``), read safely.

    Checked before anything is decompressed: the file is a regular file and a zip archive whose
    members are ``.npy`` arrays; the arrays asked for exist; together they expand at most
    ``max_expansion`` times the file's size (see the module docstring); each ``.npy`` header
    declares a plain dtype (no Python objects, so no pickle) and exactly the bytes its member
    holds. Reading then checks each member's CRC.

    Raises
    ------
    ValueError
        Naming ``what`` and the path: "is truncated or not a <what>", a missing array, an object
        array, an archive past the expansion limit.
    """
    with open_regular_file(path, what) as file:
        head = file.read(8)
        if not head.startswith(b"PK"):  # every zip archive starts with a "PK" record
            raise ValueError(f"{path} is not a {what} (a .npz zip archive): {describe_start(head)}")
        try:
            archive = zipfile.ZipFile(file)
        except _LOW_LEVEL_ERRORS:
            raise ValueError(
                f"{path} is truncated or not a {what}: it starts like a zip archive but its zip "
                "directory (at the end of the file) is missing "
                "or damaged; a save or download that was cut off?"
            ) from None
        with archive:
            members = _npy_members(archive, path, what)
            chosen = list(members) if names is None else names
            missing = [name for name in chosen if name not in members]
            if missing:
                raise ValueError(
                    f"{what} {path} has no array named {missing[0]!r}; it holds {sorted(members)}"
                )
            expanded = sum(members[name].file_size for name in chosen)
            check_expansion(expanded, os.fstat(file.fileno()).st_size, path, what, max_expansion)
            return {name: _read_npy_member(archive, members[name], path, what) for name in chosen}


def _npy_members(
    archive: zipfile.ZipFile, path: str | os.PathLike, what: str
) -> dict[str, zipfile.ZipInfo]:
    """The archive's ``.npy`` members by array name; anything else in it is refused."""
    members = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            if info.filename.endswith("data.pkl"):  # torch.save writes a zip with a pickle inside
                raise ValueError(
                    f"{path} is a PyTorch file (torch.save), not a {what}; load PyTorch weights "
                    "with scratchnet.io.load_torch_state_dict(model, path)"
                )
            raise ValueError(
                f"{path} is not a {what}: its member {info.filename!r} is not a .npy array"
            )
        members[info.filename[: -len(".npy")]] = info
    return members


def _read_npy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | os.PathLike, what: str
) -> np.ndarray:
    name = info.filename[: -len(".npy")]
    damaged = f"{path} is truncated or not a {what}: array {name!r} is damaged"
    try:
        with archive.open(info) as member:  # first pass: the .npy header only (a few hundred bytes)
            shape, dtype = _read_npy_header(member)
            header_bytes = member.tell()
    except _LOW_LEVEL_ERRORS as error:
        raise ValueError(f"{damaged} ({error})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path}: array {name!r} holds Python objects (pickled data); a {what} never does, "
            "and scratchnet never unpickles, because loading a pickle can run code"
        )
    data_bytes = math.prod(shape) * dtype.itemsize
    if header_bytes + data_bytes != info.file_size:
        raise ValueError(
            f"{damaged}: it declares shape {shape} of {dtype} ({data_bytes:,} bytes) but holds "
            f"{info.file_size - header_bytes:,} bytes"
        )
    try:
        with archive.open(info) as member:
            # second pass: the data, CRC-checked when the end is reached
            return np.lib.format.read_array(member, allow_pickle=False)
    except _LOW_LEVEL_ERRORS as error:
        raise ValueError(f"{damaged} ({error})") from None


def _read_npy_header(member: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a ``.npy`` header (NumPy's public readers; versions 1.0 and 2.0)."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version} is not supported")
    return shape, dtype
