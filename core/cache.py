"""The user's cache directory for derived data (head template, hierarchies, ...)."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path

import numpy as np
import platformdirs

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder in the user cache; `FACEFORGE_CACHE` overrides the root."""
    root = os.environ.get("FACEFORGE_CACHE") or platformdirs.user_cache_dir("faceforge")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to a temp file next to `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder(tmp: str | Path, target: str | Path) -> None:
    """Rename the finished folder `tmp` to `target`; an old `target` is removed only at the end.

    `tmp` must sit next to `target` (same file system, so each rename is atomic). If the final
    rename fails, the old folder is put back.
    """
    tmp, target = Path(tmp), Path(target)
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.old"
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> None:
    """Save arrays as an uncompressed .npz through a temp file (no pickles).

    Entries carry a fixed timestamp, so the bytes depend only on the arrays.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, array in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.asanyarray(array), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH), entry.getvalue())
    atomic_write_bytes(path, buffer.getvalue())


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz written by `save_npz_atomic` (pickles refused)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
