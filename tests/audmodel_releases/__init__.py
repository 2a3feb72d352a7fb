"""Released audmodel versions from the package index, run against this package.

:func:`fetch` brings a release's source distribution (which holds its tests
and documentation) and its installed package (which a process of its own
imports instead of ours, see :func:`env_of`) into
``tests/.audmodel-<version>/`` once; nothing of them is kept in this
repository.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys
import tarfile

import filelock


HERE = pathlib.Path(__file__).parent


@dataclasses.dataclass(frozen=True)
class Release:
    """Where a fetched release lies."""

    version: str
    source: pathlib.Path  # the unpacked source distribution: tests/, docs/
    package: pathlib.Path  # a folder to put first on PYTHONPATH


def fetch(version: str) -> Release | str:
    """A release, fetched once; or why it cannot be had."""
    store = HERE.parent / f".audmodel-{version}"
    with filelock.FileLock(str(store) + ".lock"):
        release = Release(version, store / f"audmodel-{version}", store / "package")
        if release.source.is_dir() and (release.package / "audmodel").is_dir():
            return release
        store.mkdir(exist_ok=True)
        pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
        wanted = f"audmodel=={version}"
        steps = [
            [*pip, "download", "--no-deps", "--no-binary", ":all:", "-d", str(store)],
            [*pip, "install", "--no-deps", "--target", str(release.package)],
        ]
        for step in steps:
            done = subprocess.run([*step, wanted], capture_output=True, text=True)
            if done.returncode != 0:
                return f"pip could not fetch audmodel {version}: {done.stderr[-300:]}"
        with tarfile.open(store / f"audmodel-{version}.tar.gz") as archive:
            archive.extractall(store, filter="data")
        return release


def env_of(release: Release, **extra: str) -> dict[str, str]:
    """The environment of a process whose ``import audmodel`` is the release's.

    Its dependencies (audbackend, audeer, filelock, oyaml) are ours, in
    versions it accepts.
    """
    env = {**os.environ, **extra}
    paths = [str(release.package), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
