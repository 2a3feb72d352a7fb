"""Two users of one cache: the victim (the test process) and an attacker.

Run as root (as in CI), the attacker is a child process that drops to
another user and group (:data:`ATTACKER_UID`, :data:`ATTACKER_GID`), the
group that owns a group-shared cache; the victim, root, can then be made to
follow anything the attacker plants. Run as another user, the test process
plays both, which still shows what the victim's calls do with what was
planted.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import hashlib
import os
import pathlib
import shutil
import stat
import tempfile
import traceback


ATTACKER_UID = 4242
ATTACKER_GID = 4242
AS_ROOT = os.geteuid() == 0


@dataclasses.dataclass
class World:
    r"""A folder with a cache, the victim's home, and the files in it.

    ``setup`` is ``private`` (a cache of the victim alone: what is planted
    is planted by a process of the victim's), ``group`` (a cache shared by
    a group, setgid folders, the attacker in the group) or ``shared`` (a
    shared read-only cache the attacker can write to).

    """

    base: pathlib.Path
    cache: pathlib.Path
    home: pathlib.Path
    setup: str

    @property
    def other_user(self) -> bool:
        r"""Whether the attacker runs as another user."""
        return AS_ROOT and self.setup != "private"

    def attack(self, plant: Callable[[], None]) -> None:
        r"""Run ``plant`` as the attacker."""
        if not self.other_user:
            plant()
            return
        pid = os.fork()
        if pid == 0:  # the attacker
            status = 1
            try:
                os.setgroups([ATTACKER_GID])
                os.setgid(ATTACKER_GID)
                os.setuid(ATTACKER_UID)
                os.umask(0o002)
                plant()
                status = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the attacker failed"

    def give_to_attacker(self, folder: pathlib.Path) -> None:
        r"""Let the attacker's group write everything below ``folder``."""
        for path in [folder, *folder.rglob("*")]:
            if path.is_symlink():
                continue
            if AS_ROOT:
                os.chown(path, -1, ATTACKER_GID)
            extra = stat.S_IWGRP | stat.S_IRGRP
            if path.is_dir():
                extra |= stat.S_IXGRP | stat.S_ISGID
            path.chmod(stat.S_IMODE(path.stat().st_mode) | extra)


def make_world(setup: str) -> World:
    r"""A world in a fresh folder every user can pass through."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="audmodel-world-"))
    base.chmod(0o755)
    cache = base / "cache"
    cache.mkdir()
    home = base / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA victim\n")
    (home / "notes.txt").write_text("the victim's notes\n")
    for path in (home / ".ssh" / "authorized_keys", home / "notes.txt"):
        path.chmod(0o600)
    (home / ".ssh").chmod(0o700)
    home.chmod(0o711)  # the attacker may name files in it, not list or read them
    world = World(base, cache, home, setup)
    if setup != "private":
        world.give_to_attacker(cache)
    return world


def remove_world(world: World) -> None:
    shutil.rmtree(world.base, ignore_errors=True)


def state_of(folder: pathlib.Path) -> dict[str, tuple]:
    r"""Every entry below a folder: type, mode, owner, size, times, content digest."""
    found = {}
    for path in [folder, *folder.rglob("*")]:
        info = os.lstat(path)
        digest = None
        if stat.S_ISREG(info.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(folder))] = (
            stat.S_IFMT(info.st_mode),
            stat.S_IMODE(info.st_mode),
            info.st_uid,
            info.st_gid,
            info.st_size,
            info.st_mtime_ns,
            digest,
        )
    return found
