"""audmodel 1.5.3 from the package index: its tests and pages, run against us.

:func:`fetch` brings its source distribution (which holds its tests and
documentation) and its installed package (which a process of its own
imports instead of ours, see :func:`env_of_153`) into ``tests/.audmodel-1.5.3/``
once; nothing of it is kept in this repository.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import tarfile

import filelock


VERSION = "1.5.3"
HERE = pathlib.Path(__file__).parent
STORE = HERE.parent / f".audmodel-{VERSION}"


@dataclasses.dataclass(frozen=True)
class Release:
    """Where the fetched release lies."""

    source: pathlib.Path  # the unpacked source distribution: tests/, docs/
    package: pathlib.Path  # a folder to put first on PYTHONPATH


def fetch() -> Release | str:
    """The release, fetched once; or why it cannot be had."""
    with filelock.FileLock(str(STORE) + ".lock"):
        release = Release(STORE / f"audmodel-{VERSION}", STORE / "package")
        if release.source.is_dir() and (release.package / "audmodel").is_dir():
            return release
        STORE.mkdir(exist_ok=True)
        pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
        wanted = f"audmodel=={VERSION}"
        steps = [
            [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(STORE)],
            [*pip, "install", "--no-deps", "--target", str(release.package)],
        ]
        for step in steps:
            done = subprocess.run([*step, wanted], capture_output=True, text=True)
            if done.returncode != 0:
                return f"pip could not fetch audmodel {VERSION}: {done.stderr[-300:]}"
        with tarfile.open(STORE / f"audmodel-{VERSION}.tar.gz") as archive:
            archive.extractall(STORE, filter="data")
        return release


def env_of_153(release: Release, **extra: str) -> dict[str, str]:
    """The environment of a process whose ``import audmodel`` is 1.5.3's.

    Its dependencies (audbackend, audeer, filelock, oyaml) are ours, in
    versions it accepts.
    """
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(release.package), env.get("PYTHONPATH", "")]
    )
    return env
