"""The shared cache: filled by an administrator, only read by its users.

A user's calls look there first (see :func:`audmodel.default_cache_root`
with ``shared=True``) and write nothing there: what they need to write,
such as the record of a verification, goes to the user's own cache.

"""

from __future__ import annotations

import contextlib
import json
import os
import warnings

from audmodel._cache import files_record
from audmodel._cache import is_complete
from audmodel._cache import model_dir
from audmodel._cache import read_record
from audmodel._cache import shared_stamp_file
from audmodel._cache import verify
from audmodel._cache import write_file


def shared_model(
    shared_root: str, cache_root: str, short_id: str, version: str
) -> str | None:
    r"""A model folder in the shared cache that may be used, or ``None``.

    A folder is used once its files were compared with the record of its
    archive (:func:`verify`); the sizes and modification times of its files
    are then remembered in the user's cache (``cache_root``), and later
    uses only compare those, rereading the files when one of them changed.
    Nothing is written to the shared cache, and no lock is taken there.
    A model that audmodel 1.5 put there has no record and is used as it is.

    Warns:
        UserWarning: naming the model and what differs, if it fails
            verification (the caller loads it into its own cache instead)

    """
    folder = model_dir(shared_root, short_id, version)
    if not is_complete(folder):
        return None
    files = read_record(files_record(shared_root, short_id, version))
    if files is None:
        return folder
    stamp_path = shared_stamp_file(cache_root, short_id, version)
    try:
        now = _stamp(folder)
    except OSError:  # removed from the shared cache meanwhile
        return None
    stamp = read_record(stamp_path)
    if stamp is not None and stamp == {"folder": folder, "files": now}:
        return folder
    problems = verify(folder, files)
    if problems:
        listed = ", ".join(f"{path} {problem}" for path, problem in problems[:3])
        warnings.warn(
            f"Model '{short_id}-{version}' in the shared cache '{shared_root}' "
            f"differs from its archive ({listed}); it is loaded into "
            f"'{cache_root}' instead.",
            stacklevel=2,
        )
        return None
    with contextlib.suppress(OSError, RuntimeError):  # the stamp only saves time
        write_file(stamp_path, json.dumps({"folder": folder, "files": now}).encode())
    return folder


def _stamp(folder: str) -> dict[str, list[int]]:
    r"""Size and modification time (ns) of each file below a folder."""
    stamp = {}
    for base, _, names in os.walk(folder):
        for name in names:
            info = os.lstat(os.path.join(base, name))
            relative = os.path.relpath(os.path.join(base, name), folder)
            stamp[relative.replace(os.sep, "/")] = [info.st_size, info.st_mtime_ns]
    return stamp
