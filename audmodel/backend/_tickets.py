"""Creating a file only if absent on a backend without conditional writes.

Artifactory (and any audbackend backend without ``put_file_exclusive``)
cannot refuse a write to a path that exists. Of several processes creating
the same file, exactly one must win, so they take tickets first:

1. a process writes a ticket of its own beside the file
   (``<file>.<time>-<random>.ticket``), then lists the folder, in one
   request seeing the file and the tickets there;
2. if the file is there, it removes its ticket: it has lost;
3. if its ticket is the only one, it writes the file and removes its
   ticket: it has won;
4. otherwise it removes its ticket, waits a random, growing while and
   starts again.

Two processes cannot both win: each would have listed the folder after
writing its own ticket and before the other wrote, which cannot hold for
both; and a winner removes its ticket only after writing the file, which a
later contender's listing shows (step 2). This needs a backend whose listings show
every write that finished before (Artifactory's do). The random waits make
sure that one of several contenders wins soon. A ticket left by a killed
process is ignored once it is older than :data:`STALE_AFTER` seconds.

"""

from __future__ import annotations

import fnmatch
import os
import random
import secrets
import time

from audmodel import errors
from audmodel._lazy import audbackend
from audmodel.backend._capabilities import Capabilities


ATTEMPTS = 10
FIRST_WAIT = 0.05  # seconds; doubles with each attempt, up to LONGEST_WAIT
LONGEST_WAIT = 2.0
STALE_AFTER = 300.0  # seconds


def new_ticket(dst: str) -> str:
    r"""The path of a new ticket for creating ``dst``, unique to this call.

    Examples:
        >>> new_ticket("/claim.yaml").startswith("/claim.yaml.")
        True

    """
    return f"{dst}.{time.time_ns():x}-{secrets.token_hex(4)}.ticket"


def put_file_exclusive(
    backend: audbackend.backend.Base, src: str, dst: str, placed: str | None = None
) -> bool:
    r"""Upload ``src`` to ``dst`` unless ``dst`` exists; tell if it was uploaded.

    Args:
        backend: an opened backend
        src: local file
        dst: path on the backend
        placed: a ticket (:func:`new_ticket`) with the content of ``src``
            that the caller already wrote, taken as the first one

    Returns:
        ``True`` if this call created ``dst``,
        ``False`` if it existed or another process created it meanwhile

    Raises:
        audbackend.BackendError: if the backend fails
        RuntimeError: if other processes contended for ``dst``
            through every attempt

    Examples:
        >>> import audbackend
        >>> audbackend.backend.FileSystem.create(".", "repo")
        >>> backend = audbackend.backend.FileSystem(".", "repo")
        >>> backend.open()
        >>> with open("claim.txt", "w") as fp:
        ...     _ = fp.write("mine")
        >>> put_file_exclusive(backend, "claim.txt", "/claim.txt")
        True
        >>> put_file_exclusive(backend, "claim.txt", "/claim.txt")
        False

    """
    folder = dst.rsplit("/", 1)[0] + "/"
    for attempt in range(ATTEMPTS):
        if attempt == 0 and placed is not None:
            ticket = placed
        else:
            ticket = new_ticket(dst)
            backend.put_file(src, ticket)
        try:
            # One listing after the ticket is placed tells both: whether
            # ``dst`` is there, and whose tickets compete. A rival that
            # created ``dst`` placed its ticket first and listed none of ours.
            present = backend.ls(folder)
            if dst in present:
                return False
            if not _rivals(backend, present, dst, ticket):
                backend.put_file(src, dst)
                return True
        finally:
            _remove(backend, ticket)
        wait = min(FIRST_WAIT * 2**attempt, LONGEST_WAIT)
        time.sleep(random.uniform(0, wait))
    raise errors.BusyError(
        f"Could not create '{dst}': other processes kept taking tickets for it "
        f"through {ATTEMPTS} attempts. If none of them runs, remove the files "
        f"'{dst}.*.ticket' from the repository."
    )


def _rivals(
    backend: audbackend.backend.Base, present: list[str], dst: str, ticket: str
) -> list[str]:
    r"""Tickets of other processes for ``dst`` among ``present``; stale ones go."""
    pattern = f"{os.path.basename(dst)}.*.ticket"
    rivals = []
    for path in present:
        if path == ticket or not fnmatch.fnmatchcase(os.path.basename(path), pattern):
            continue
        if age(path) > STALE_AFTER:
            _remove(backend, path)
        else:
            rivals.append(path)
    return rivals


def age(ticket: str) -> float:
    r"""Seconds since a ticket was taken, by the time in its name."""
    stamp = ticket.rsplit(".", 2)[-2].split("-")[0]
    try:
        taken = int(stamp, 16) / 1e9
    except ValueError:  # not one of ours: never stale
        return 0.0
    return time.time() - taken


def _remove(backend: audbackend.backend.Base, path: str) -> None:
    # Another process may remove a stale ticket at the same time.
    try:
        if not Capabilities(backend).remove_if_there(path):
            backend.remove_file(path)
    except audbackend.BackendError:
        pass
