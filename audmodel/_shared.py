"""The shared cache: filled by an administrator, only read by its users.

A user's calls look there first (see :func:`audmodel.default_cache_root`
with ``shared=True``) and write nothing there: what they need to write,
such as the record of a verification, goes to the user's own cache.

"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import json
import os
import warnings

from audmodel._cache import is_complete
from audmodel._cache import model_dir
from audmodel._cache import read_record
from audmodel._cache import shared_stamp_file
from audmodel._cache import verify
from audmodel._cache import write_file
from audmodel._ids import ModelId


def shared_model(
    shared_root: str,
    cache_root: str,
    model: ModelId,
    trusted_record: Callable[[], dict[str, list[int]]],
) -> str | None:
    r"""A model folder in the shared cache that may be used, or ``None``.

    Whoever can write the shared cache could change a model there, and its
    record of the files along with it, so a folder is used only once its
    files were compared with a record this user trusts: the sizes and
    CRC-32s of the archive's central directory in the repository, kept in
    the user's own cache (``trusted_record``, see
    :func:`audmodel._load.files_record`). The state of its files (size,
    times and inode, which no user can set back together) is then kept in
    the user's cache too, and later uses only compare that, verifying the
    files again when anything changed. Nothing is written to the shared
    cache, and no lock is taken there.

    Args:
        shared_root: the shared cache
        cache_root: the user's cache
        model: the model
        trusted_record: gives the trusted record; raises if it cannot be
            had (e.g. offline, with none in the user's cache)

    Warns:
        UserWarning: naming the model and why it is not used, when it
            cannot be verified or differs from its archive (the caller
            loads it into its own cache instead)

    """
    folder = model_dir(shared_root, model)
    if not is_complete(folder):  # a link is not complete either
        return None
    stamp_path = shared_stamp_file(cache_root, model)
    try:
        now = _stamp(folder)
    except OSError:  # removed from the shared cache meanwhile
        return None
    stamp = read_record(stamp_path)
    if stamp is not None and stamp == {"folder": folder, "files": now}:
        return folder
    which = f"Model '{model}' in the shared cache '{shared_root}'"
    try:
        record = trusted_record()
    except Exception as ex:  # offline, unreachable, or gone from its repository
        warnings.warn(
            f"{which} cannot be verified ({ex}); it is loaded into "
            f"'{cache_root}' instead.",
            stacklevel=2,
        )
        return None
    problems = verify(folder, record)
    if problems:
        listed = ", ".join(f"{path} {problem}" for path, problem in problems[:3])
        warnings.warn(
            f"{which} differs from its archive ({listed}); it is loaded into "
            f"'{cache_root}' instead.",
            stacklevel=2,
        )
        return None
    with contextlib.suppress(OSError, RuntimeError):  # the stamp only saves time
        write_file(stamp_path, json.dumps({"folder": folder, "files": now}).encode())
    return folder


def _stamp(folder: str) -> dict[str, list[int]]:
    r"""Size, times (ns) and inode of each entry below a folder, links included.

    Rewriting a file, or setting its modification time back, changes its
    change time; replacing it changes its inode.

    """
    stamp = {}
    for base, folders, names in os.walk(folder):
        for name in folders + names:
            info = os.lstat(os.path.join(base, name))
            relative = os.path.relpath(os.path.join(base, name), folder)
            stamp[relative.replace(os.sep, "/")] = [
                info.st_mode,
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
                info.st_ino,
            ]
    return stamp
