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
is all-or-nothing, so a crash or a full disk mid-save leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from scratchnet.backend import to_device
from scratchnet.tensor import Tensor

TREE_KEY = "__scratchnet_tree__"
FORMAT = "scratchnet-npz-1"


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None) to ``path``.

    The file is written to exactly ``path`` (no ``.npz`` is appended) and replaces it atomically.
    """
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)
    header = json.dumps({"format": FORMAT, "tree": tree})
    arrays[TREE_KEY] = np.array(header)  # a 0-d unicode array: no pickle needed
    atomic_write(path, lambda file: _write_arrays(file, arrays))


def load(path: str | os.PathLike) -> Any:
    """Read a file written by ``save``; a plain ``np.savez`` file comes back as a dict of arrays."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    with np.load(path, allow_pickle=False) as npz:
        members = {name: npz[name] for name in npz.files}
    if TREE_KEY not in members:
        return members
    header = json.loads(str(members.pop(TREE_KEY)))
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown scratchnet file format {header.get('format')!r}")
    return _decode(header["tree"], members)


def atomic_write(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then move it over ``path``.

    If ``write`` raises (or the process dies), ``path`` still holds its previous content and the
    temporary file is removed (or, after a hard crash, left as ``.<name>.*.tmp`` beside it).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    # Same directory => same file system => os.replace is an atomic rename, not a copy.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
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


def _write_arrays(file: Any, arrays: dict[str, np.ndarray]) -> None:
    np.savez(file, **arrays)


# --------------------------------------------------------------------------- the tree


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Turn ``obj`` into JSON-able nodes, moving its arrays into ``arrays``."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.generic):
        array = np.asarray(to_device(obj, "cpu"))
        if array.dtype == object:
            raise TypeError(f"save: {path or 'the object'} is an object array, which cannot be stored without pickle")
        name = path or "array"
        while name in arrays or name == TREE_KEY:  # "a/b" as one key vs nested a -> b
            name += "'"
        arrays[name] = array
        return {"array": name}
    if isinstance(obj, np.generic):  # a NumPy scalar keeps its dtype as a 0-d array
        return _encode(np.asarray(obj), path, arrays)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {path or 'the top'}")
            items.append([key, _encode(value, f"{path}/{key}" if path else str(key), arrays)])
        return {"dict": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, bool | int | float | str):
        return {"value": obj}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {path or 'the top'} without pickle")


def _decode(node: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    [(kind, value)] = node.items()  # each node is a one-entry dict: {kind: value}
    if kind == "array":
        return arrays[value]
    if kind == "dict":
        return {key: _decode(child, arrays) for key, child in value}
    if kind == "list":
        return [_decode(child, arrays) for child in value]
    if kind == "tuple":
        return tuple(_decode(child, arrays) for child in value)
    return value


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
