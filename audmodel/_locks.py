"""Cache locks: ``flock``, or lease lock files where ``flock`` cannot be trusted.

On local file systems the cache is locked with ``flock`` (through
``filelock``), as audmodel 1.5 locks it, so that both libraries loading
into one cache exclude each other.

Some network file systems refuse ``flock`` (Lustre without its ``flock``
mount option; some NFS and CIFS mounts), and on others it succeeds
without locking anything across machines. There the cache uses lease lock
files (``flufl.lock``): a claim file is hard-linked to the lock file, which
is atomic on NFS too; the holder renews the lease while it works, and
others break it only when it has run out (:data:`LEASE_LIFETIME` seconds,
plus ``flufl.lock``'s allowance for clocks that differ) or when its holder
is a process of the same machine that is gone. Lease locks are taken where
``flock`` fails, with a warning naming the file system once, and always
with ``cache_lock: lease`` (``AUDMODEL_CACHE_LOCK=lease``), for mounts
where it succeeds but locks nothing. All users of one cache must then use
them.

"""

from __future__ import annotations

import contextlib
import datetime
import errno
import functools
import os
import stat
import threading
import time
from typing import Protocol
import warnings

from audmodel import _call
from audmodel._config import cache_lock
from audmodel._files import open_lock_file
from audmodel._files import read_small
from audmodel._files import remove_entry
from audmodel._lazy import fcntl
from audmodel._lazy import filelock
from audmodel._lazy import flufl_lock


LEASE_LIFETIME = 60.0
r"""Seconds a lease lasts unless its holder renews it (every third of it)."""
LEASE_SUFFIX = ".lease"
r"""Ending of a lease lock file, beside the ``flock`` file of the same lock."""

# flock fails with these where the file system does not support it; other
# errors (EAGAIN: held by someone else) mean it works.
_FLOCK_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_flock_works: dict[int, bool] = {}  # by device
_probe_lock = threading.Lock()


class Lock(Protocol):
    r"""What the cache needs of a lock: filelock's interface, in short."""

    def acquire(self, timeout: float) -> object: ...

    def release(self) -> None: ...


def lock(file: str, mode: int) -> Lock:
    r"""The lock of a cache file: ``flock`` where it works, else a lease.

    Args:
        file: the lock file (a lease uses ``file`` + :data:`LEASE_SUFFIX`)
        mode: permissions of a new ``flock`` lock file

    Returns:
        a lock whose ``acquire(timeout)`` raises :class:`filelock.Timeout`

    Example:
        >>> import tempfile
        >>> guard = lock(os.path.join(tempfile.mkdtemp(), ".x.lock"), 0o644)
        >>> _ = guard.acquire(timeout=0)
        >>> guard.release()

    """
    # As the call under way read it, once (see audmodel._call).
    kind = _call.setting("cache_lock", cache_lock)
    if kind == "lease" or not flock_works(file, mode):
        return LeaseLock(file + LEASE_SUFFIX)
    return filelock.FileLock(file, mode=mode)


def flock_works(file: str, mode: int = 0o644) -> bool:
    r"""Tell if ``flock`` works on the file system of ``file``; warn once if not.

    Probed once per file system (device), on the lock file itself, which
    is created with ``mode`` if missing, as filelock would create it.

    """
    folder = os.path.dirname(file) or "."
    device = os.stat(folder).st_dev
    with _probe_lock:
        if device not in _flock_works:
            _flock_works[device] = _probe(file, mode)
            if not _flock_works[device]:
                warnings.warn(
                    f"flock does not work on the file system of '{folder}' "
                    f"({filesystem_type(folder)}); the cache is locked with "
                    "lease lock files there. Everyone using this cache must "
                    "then use them: set 'cache_lock: lease' for all.",
                    stacklevel=4,
                )
    return _flock_works[device]


def _probe(file: str, mode: int) -> bool:
    fd = open_lock_file(file, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as ex:
        return ex.errno not in _FLOCK_UNSUPPORTED
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def filesystem_type(path: str) -> str:
    r"""The type of the file system ``path`` is on, from ``/proc/mounts``.

    Returns:
        e.g. ``'nfs4'``, or ``'unknown file system'``

    """
    path = os.path.realpath(path)
    found, longest = "unknown file system", -1
    with contextlib.suppress(OSError):
        with open("/proc/mounts") as fp:
            for line in fp:
                fields = line.split()
                if len(fields) < 3:
                    continue
                point = fields[1].replace("\\040", " ")
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) > longest:
                    found, longest = fields[2], len(point)
    return found


class LeaseLock:
    r"""A lease lock file, renewed while held; see the module's description.

    Args:
        file: the lock file

    """

    def __init__(self, file: str):
        self.file = file
        lifetime = datetime.timedelta(seconds=LEASE_LIFETIME)
        self._lease = _lease_class()(file, lifetime=lifetime)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, timeout: float) -> LeaseLock:
        r"""Take the lock, waiting up to ``timeout`` seconds.

        A lease whose holder ran on this machine and is gone is broken at
        once; others are broken when they have run out.

        Raises:
            filelock.Timeout: if the lock is not taken in time

        """
        deadline = time.monotonic() + timeout
        while True:
            self._break_if_stale()
            left = max(0.0, deadline - time.monotonic())
            try:
                self._lease.lock(timeout=datetime.timedelta(seconds=min(left, 1.0)))
                break
            except flufl_lock.TimeOutError:
                if time.monotonic() >= deadline:
                    raise filelock.Timeout(self.file) from None
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def release(self) -> None:
        r"""Give the lock up, leaving no file behind."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        self._lease.unlock(unconditionally=True)

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_LIFETIME / 3):
            with contextlib.suppress(Exception):  # a lost lease shows on release
                self._lease.refresh()

    def _break_if_stale(self) -> None:
        r"""Remove a lease that is no lease, or whose holder here is gone.

        A link, FIFO or folder at the lease's name was put there by someone
        else (a lease is always a regular file) and is removed, not read.

        """
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(os.lstat(self.file).st_mode):
                remove_entry(self.file)
                return
        if _holder_gone(self._lease, self.file):
            break_lease(self.file)


def break_lease(file: str) -> None:
    r"""Break a lease: remove its lock file, then its holder's claim file.

    The claim file is named in the lock file; it is removed only where that
    name is the lock file's own followed by ``|`` and no ``/``, i.e. a
    claim beside it, so that a lease someone planted cannot name a file
    elsewhere for removal.

    """
    holder = (_lease_text(file) or "").strip()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(file)
    if holder.startswith(file + "|") and "/" not in holder[len(file) :]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(holder)


@functools.cache
def _lease_class() -> type:
    r"""``flufl.lock``'s lock, with every file operation never through a link.

    ``flufl.lock`` opens files by name: it writes its claim file and reads
    the lease with ``open()`` (a FIFO there would block, a link be followed),
    sets their times through links, and breaking a lease that ran out
    removes whatever file the lease names. In a cache shared by a group,
    anyone in it can put a link or FIFO at those names; these four are
    replaced.

    """

    class SafeLease(flufl_lock.Lock):
        def _write(self) -> None:
            # A fresh file: whatever is at the claim's name is not written through.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._claimfile)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            fd = os.open(self._claimfile, flags, 0o644)
            with os.fdopen(fd, "w") as fp:
                fp.write(self._claimfile)

        def _touch(self, filename: str | None = None) -> None:
            expires = time.time() + self._lifetime.total_seconds()
            with contextlib.suppress(FileNotFoundError, PermissionError):
                os.utime(
                    filename or self._claimfile,
                    (expires, expires),
                    follow_symlinks=False,
                )

        def _read(self) -> str | None:
            return _lease_text(self._lockfile)

        def _break(self) -> None:
            break_lease(self._lockfile)

    return SafeLease


def _lease_text(file: str) -> str | None:
    r"""What a lease file says, ``None`` if it is no regular file."""
    data = read_small(file, 4096)
    return None if data is None else data.decode("utf-8", errors="replace")


def _holder_gone(lease: object, file: str) -> bool:
    r"""Whether a lease was taken by a process of this machine that is gone."""
    parts = (_lease_text(file) or "").strip().split("|")
    if len(parts) != 4 or parts[1] != getattr(lease, "hostname", None):
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ValueError:
        return False
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
