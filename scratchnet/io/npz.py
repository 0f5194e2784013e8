"""Save and load nested dicts of arrays and numbers as ``.npz``, atomically and without pickle.

A checkpoint is a tree: ``{"model": {"conv1.weight": array, ...}, "optimizer": {"state": {0: {...}},
"param_groups": [{...}]}, "epoch": 3}``. ``np.savez`` can store the arrays but not the tree, and
``np.save`` of a dict would need pickle, which runs arbitrary code when an untrusted file is
loaded. So the file holds:

* every array as its own ``.npy`` member, named by its path in the tree (``model/conv1.weight``),
  so ``np.load(path)`` shows a student readable names;
* one more member, ``__scratchnet_tree__``: the tree itself as JSON text, with each array replaced
  by its member name and each dict stored as ``[key, value]`` pairs so int keys stay ints.

Loading uses ``np.load(..., allow_pickle=False)``: a file that tries to smuggle in an object
array is refused.

Saving is atomic: the data go to a temporary file in the same directory, which is flushed to disk
(``fsync``) and then renamed over the target with ``os.replace``. A rename within one file system
is all-or-nothing, so a crash or a full disk mid-save leaves the previous file intact. A process
killed mid-save leaves its temporary file (``.<name>.<8 random characters>.tmp``) behind; the next
save to the same path removes such files, once no live writer holds them (each writer keeps an
``flock`` on its temporary file while it writes).

Loading trusts nothing in the file: it goes through ``scratchnet.io.files.read_npz`` (a regular
file, a zip archive of plain ``.npy`` arrays, no pickle, an expansion limit), and the tree is
checked node by node, so a truncated, edited or foreign file gives one ``ValueError`` that names
the path and says what is wrong, and a failed load changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from scratchnet.backend import is_device, normalize_device, to_device
from scratchnet.io.files import read_npz
from scratchnet.tensor import Tensor

try:
    import fcntl  # POSIX: flock marks a temporary file as being written
except ImportError:  # Windows: an open file cannot be deleted there, which does the same job
    fcntl = None

TREE_KEY = "__scratchnet_tree__"
FORMAT = "scratchnet-npz-1"
WHAT = "scratchnet checkpoint"  # how the messages name a file written by save()
MAX_DEPTH = 100  # nesting levels of dicts/lists/tuples; a real checkpoint has fewer than 10
KINDS = ("array", "dict", "list", "tuple", "value")  # the node kinds of the tree


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj``
    (nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None) to ``path``.

    The file is written to exactly ``path`` (no ``.npz`` is appended) and replaces it atomically.
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)
    header = json.dumps({"format": FORMAT, "tree": tree})
    arrays[TREE_KEY] = np.array(header)  # a 0-d unicode array: no pickle needed
    atomic_write(path, lambda file: _write_arrays(file, arrays))


def load(
    path: str | os.PathLike,
    max_expansion: float | None = None,
    *,
    map_location: Any = None,
    weights_only: bool | None = None,
) -> Any:
    """Read a file written by ``save``; a plain ``np.savez`` file comes back as a dict of arrays.

    Parameters
    ----------
    path : path
    max_expansion : float, optional
        How many times its size on disk the file may expand to when unpacked; default
        ``scratchnet.io.files.MAX_EXPANSION`` (100; see there).
    map_location : "cpu", "cuda" or a device, optional
        PyTorch's keyword: where the arrays go ("cpu": where they are read to, so no change).
    weights_only : bool, optional
        PyTorch's keyword, accepted either way: the file never holds code (no pickle), so loading
        is always what ``torch.load(weights_only=True)`` does.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        No such file; a directory.
    ValueError
        Anything else that is not a readable checkpoint (an empty, truncated, edited or foreign
        file, a FIFO or device, an archive past the expansion limit), with the path and the reason.
    """
    if map_location is not None and not (isinstance(map_location, str) or is_device(map_location)):
        raise NotImplementedError(
            f"load(map_location={map_location!r}): scratchnet takes a device ('cpu', 'cuda', "
            "device(...)), not a function or a dict; move the loaded tensors with .to(device)"
        )
    members = read_npz(path, WHAT, max_expansion=max_expansion)
    if TREE_KEY not in members:
        return members
    tree = _read_header(members.pop(TREE_KEY), path)
    loaded = _decode(tree, members, path, depth=0)
    if map_location is not None and normalize_device(map_location) != "cpu":
        loaded = _map_arrays(loaded, lambda a: to_device(a, map_location))
    return loaded


def _map_arrays(node: Any, change: Any) -> Any:
    """``node`` with ``change`` applied to every array in it (dicts, lists and tuples rebuilt)."""
    if isinstance(node, np.ndarray):
        return change(node)
    if isinstance(node, dict):
        return {key: _map_arrays(value, change) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(_map_arrays(value, change) for value in node)
    return node


def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it over ``path``.

    If ``write`` raises (or the process dies), ``path`` still holds its previous content and the
    temporary file is removed (or, after a hard crash, left as ``.<name>.*.tmp`` beside it).
    """
    path = Path(path)
    if path.is_dir():
        example = path / "checkpoint.npz"
        raise IsADirectoryError(
            f"cannot save to {path}: it is a directory; give a file name, e.g. {example}"
        )
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temporary_files(path)
    # Same directory => same file system => os.replace is an atomic rename, not a copy.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # "being written": released when we close it or die
        os.chmod(temp_name, _file_mode(path))  # mkstemp makes it private (0600); use the usual mode
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(directory)  # make the rename itself durable


def remove_stale_temporary_files(path: str | os.PathLike) -> list[str]:
    """Delete the temporary files that saves to ``path`` killed mid-write left behind.

    Only files named as ``atomic_write`` names them (``.<name>.`` + mkstemp's 8 characters +
    ``.tmp``) are touched, and only when no live writer holds them: a writer keeps an ``flock``
    on its file, which the system releases when the writer dies. A file that is still empty and
    less than a minute old is left alone too (a writer between creating and locking it).

    Returns
    -------
    list of str
        The names removed.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    ours = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")  # tempfile's alphabet
    removed = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            if (
                ours.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and not _being_written(entry.path)
            ):
                with contextlib.suppress(OSError):  # gone already, or (Windows) still open
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def _being_written(temp_path: str) -> bool:
    """Whether a live ``atomic_write`` holds this temporary file (see
    ``remove_stale_temporary_files``).
    """
    try:
        fd = os.open(temp_path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return True  # cannot tell: leave it
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (
            info.st_size == 0 and time.time() - info.st_mtime < 60
        ):
            return True
        if fcntl is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while the writer holds its lock
        except OSError:
            return True
        return False
    finally:
        os.close(fd)  # also drops our lock


def _write_arrays(file: Any, arrays: dict[str, np.ndarray]) -> None:
    np.savez(file, **arrays)


# --------------------------------------------------------------------------- the tree


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    """Turn ``obj`` into JSON-able nodes, moving its arrays into ``arrays``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"save: {path} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, Tensor):
        obj = obj.array
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.generic):
        array = np.asarray(to_device(obj, "cpu"))
        if array.dtype == object:
            raise TypeError(
                f"save: {path or 'the object'} is an object "
                "array, which cannot be stored without pickle"
            )
        name = path or "array"
        while name in arrays or name == TREE_KEY:  # "a/b" as one key vs nested a -> b
            name += "'"
        arrays[name] = array
        return {"array": name}
    if isinstance(obj, np.generic):  # a NumPy scalar keeps its dtype as a 0-d array
        return _encode(np.asarray(obj), path, arrays, depth)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(
                    f"save: dict keys must be str or int, got {key!r} at {path or 'the top'}"
                )
            items.append(
                [key, _encode(value, f"{path}/{key}" if path else str(key), arrays, depth + 1)]
            )
        return {"dict": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            kind: [
                _encode(v, f"{path}/{i}" if path else str(i), arrays, depth + 1)
                for i, v in enumerate(obj)
            ]
        }
    if obj is None or isinstance(obj, bool | int | float | str):
        return {"value": obj}
    raise TypeError(
        f"save: cannot store {type(obj).__name__} at {path or 'the top'} without pickle"
    )


def _read_header(member: np.ndarray, path: str | os.PathLike) -> Any:
    """The tree from the ``__scratchnet_tree__`` member:
    a 0-d string of JSON with our format tag.
    """
    if member.shape != () or member.dtype.kind != "U":
        raise _edited(
            path, f"{TREE_KEY} is a {member.dtype} array of shape {member.shape}, not a JSON string"
        )
    try:
        header = json.loads(str(member))
    except RecursionError:  # JSON nested thousands of levels deep
        raise _edited(path, f"{TREE_KEY} is nested too deeply to read") from None
    except ValueError as error:  # json.JSONDecodeError, or an integer of more than 4300 digits
        where = (
            f"at character {error.pos}"
            if isinstance(error, json.JSONDecodeError)
            else "too long a number"
        )
        raise _edited(path, f"{TREE_KEY} is not valid JSON ({where})") from None
    if not isinstance(header, dict) or "tree" not in header:
        raise _edited(path, f"{TREE_KEY} has no tree")
    if header.get("format") != FORMAT:
        found = header.get("format")
        raise ValueError(
            f"{path}: unknown scratchnet file format {found!r} (this version reads {FORMAT!r})"
        )
    return header["tree"]


def _decode(node: Any, arrays: dict[str, np.ndarray], path: str | os.PathLike, depth: int) -> Any:
    """Rebuild the object from its tree node, checking each node (the file may have been edited)."""
    if depth > MAX_DEPTH:
        raise _edited(path, f"the tree is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in KINDS:
        raise _edited(
            path, f"a node is {str(node)[:60]!r}, not one of {{kind: value}} with kind in {KINDS}"
        )
    [(kind, value)] = node.items()  # each node is a one-entry dict: {kind: value}
    if kind == "array":
        if not isinstance(value, str) or value not in arrays:
            raise _edited(
                path, f"it refers to an array {str(value)[:60]!r} that the file does not hold"
            )
        return arrays[value]
    if kind == "value":
        if value is not None and not isinstance(value, bool | int | float | str):
            raise _edited(
                path, f"a value is a {type(value).__name__}, not a number, string or None"
            )
        return value
    if not isinstance(value, list):
        raise _edited(path, f"a {kind} node holds a {type(value).__name__}, not a list")
    if kind == "dict":
        for pair in value:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str | int)
                and not isinstance(pair[0], bool)
            ):
                raise _edited(path, f"a dict entry is {str(pair)[:60]!r}, not a [key, node] pair")
        return {key: _decode(child, arrays, path, depth + 1) for key, child in value}
    children = [_decode(child, arrays, path, depth + 1) for child in value]
    return children if kind == "list" else tuple(children)


def _edited(path: str | os.PathLike, detail: str) -> ValueError:
    return ValueError(
        f"{path} is damaged or not a {WHAT}: its tree was edited or corrupted ({detail})"
    )


# --------------------------------------------------------------------------- helpers


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or of a new file under the current umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Flush the directory entry (POSIX); Windows cannot open directories and needs no call."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
