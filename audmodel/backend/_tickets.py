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

A *claim* (:func:`take`) is held by its ticket alone: the ticket that
wins stays, as the claim, until its holder removes it; nothing else is
written. A contender that lists the folder tells a holder from another
contender by time: a contender removes its ticket right after listing, a
holder's ticket stays. A rival ticket seen again after :data:`HELD_AFTER`
seconds is taken for the holder, and the contender gives way. A claim's
ticket is never passed over for its age (a publication may take hours):
it is judged by its holder, as every claim is
(:func:`audmodel._transaction.claimed`).

"""

from __future__ import annotations

import fnmatch
import os
import random
import secrets
import time
from typing import NamedTuple

from audmodel import errors
from audmodel._lazy import audbackend
from audmodel.backend._capabilities import Capabilities


ATTEMPTS = 10
FIRST_WAIT = 0.05  # seconds; doubles with each attempt, up to LONGEST_WAIT
LONGEST_WAIT = 2.0
STALE_AFTER = 300.0  # seconds
HELD_AFTER = 1.0  # seconds a rival ticket stays before it is taken for a holder


class Taken(NamedTuple):
    r"""The outcome of taking a claim: the path held, or the holder's."""

    held: str | None  # the file that is the claim, to remove on release
    holder: str  # where the claim is: ``held``, or another process's


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
        ticket = _placed(backend, src, dst, placed if attempt == 0 else None)
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


def take(
    backend: audbackend.backend.Base, src: str, dst: str, placed: str | None = None
) -> Taken:
    r"""Take the claim ``dst`` by a ticket holding ``src``; the winning ticket is it.

    Args:
        backend: an opened backend
        src: local file, the claim's content
        dst: the claim's path; a file there (written by a conditional
            write) is a claim too
        placed: a ticket (:func:`new_ticket`) with the content of ``src``
            that the caller already wrote, taken as the first one

    Returns:
        the ticket held, or the path of the claim another process holds

    Raises:
        audbackend.BackendError: if the backend fails

    Examples:
        >>> import audbackend, pathlib
        >>> _ = pathlib.Path("claim.yaml").write_text("pid: 1")
        >>> audbackend.backend.FileSystem.create(".", "claims")
        >>> with audbackend.backend.FileSystem(".", "claims") as backend:
        ...     first = take(backend, "claim.yaml", "/claim.yaml")
        ...     second = take(backend, "claim.yaml", "/claim.yaml")
        >>> first.held.endswith(".ticket"), second == (None, first.held)
        (True, True)

    """
    folder = dst.rsplit("/", 1)[0] + "/"
    first_seen: dict[str, float] = {}
    rivals: list[str] = []
    for attempt in range(ATTEMPTS):
        ticket = _placed(backend, src, dst, placed if attempt == 0 else None)
        present = backend.ls(folder)
        if dst in present:
            _remove(backend, ticket)
            return Taken(None, dst)
        rivals = _tickets_of(present, dst, ticket)
        if not rivals:
            return Taken(ticket, ticket)
        _remove(backend, ticket)
        now = time.monotonic()
        for rival in rivals:
            first_seen.setdefault(rival, now)
        held = [rival for rival in rivals if now - first_seen[rival] >= HELD_AFTER]
        if held:
            return Taken(None, min(held))
        wait = min(FIRST_WAIT * 2**attempt, LONGEST_WAIT)
        time.sleep(random.uniform(wait / 2, wait))
    return Taken(None, min(rivals))


def _placed(
    backend: audbackend.backend.Base, src: str, dst: str, placed: str | None
) -> str:
    r"""A ticket for ``dst`` holding ``src``: ``placed``, or one written now."""
    if placed is not None:
        return placed
    ticket = new_ticket(dst)
    backend.put_file(src, ticket)
    return ticket


def _tickets_of(present: list[str], dst: str, own: str) -> list[str]:
    r"""The tickets for ``dst`` among ``present``, but ``own``."""
    pattern = f"{os.path.basename(dst)}.*.ticket"
    return [
        path
        for path in present
        if path != own and fnmatch.fnmatchcase(os.path.basename(path), pattern)
    ]


def _rivals(
    backend: audbackend.backend.Base, present: list[str], dst: str, ticket: str
) -> list[str]:
    r"""Tickets of other processes for ``dst`` among ``present``; stale ones go."""
    rivals = []
    for path in _tickets_of(present, dst, ticket):
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
