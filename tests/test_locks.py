"""Cache locks on file systems where flock fails or locks nothing: lease lock
files, renewed by their holder, broken when it is gone."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import textwrap
import time

from helpers import files_below
from helpers import make_file_system_repository
from helpers import publish
from helpers import start_script
import pytest

import audmodel
from audmodel import _locks


# Loads a model with a slow unpacking, so that the others pile up on the
# lock; BREAK_FLOCK makes flock fail as on Lustre without its mount option.
LOADER = textwrap.dedent(
    """
    import errno, fcntl, os, sys, time

    if os.environ.get("BREAK_FLOCK"):
        def refuse(fd, operation):
            raise OSError(errno.ENOLCK, "No locks available")
        fcntl.flock = refuse

    import audmodel
    from audmodel import _archive

    original = _archive.extract

    def slow_extract(source, root, *progress):
        with open(sys.argv[4], "a") as fp:
            fp.write("download\\n")
        time.sleep(0.5)
        return original(source, root, *progress)

    _archive.extract = slow_extract
    repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
    audmodel.config.REPOSITORIES = [repository]
    print(audmodel.load(sys.argv[5], cache_root=sys.argv[6], timeout=120))
    """
)

# Takes a model's lock and keeps it until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    import audmodel
    from audmodel import _cache
    from audmodel import _ids

    final = _cache.model_dir(sys.argv[5], _ids.split_uid(sys.argv[4]))
    with _cache.lock(final):
        print("holding", flush=True)
        time.sleep(300)
    """
)


def load_in_process(repository, uid: str, cache: pathlib.Path) -> tuple[str, str]:
    """Load a model in a new process; its output and errors, once it ended."""
    loader = start_script(
        LOADER,
        cache.parent,
        repository,
        cache.parent / "downloads.log",
        uid,
        cache,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = loader.communicate(timeout=120)
    assert loader.returncode == 0, err
    return out.strip(), err


def strays(folder: pathlib.Path) -> list[str]:
    """What a finished load must not leave: leases, claims, staging folders."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.endswith(_locks.LEASE_SUFFIX) or "|" in p.name or "staging" in p.name
    )


@pytest.fixture
def published(request, tmp_path, model_root, monkeypatch):
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    return repository, publish(model_root)


@pytest.mark.parametrize("how", ["flock fails", "lease forced"])
def test_processes_load_once_with_lease_locks(
    published, tmp_path, model_root, monkeypatch, how
):
    repository, uid = published
    if how == "flock fails":
        monkeypatch.setenv("BREAK_FLOCK", "1")
    else:
        monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    log, cache = tmp_path / "downloads.log", tmp_path / "cache"
    processes = [
        start_script(
            LOADER,
            tmp_path,
            repository,
            log,
            uid,
            cache,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert log.read_text().count("download") == 1
    folder = outputs[0][0].strip()
    assert files_below(folder) == files_below(model_root)
    assert strays(pathlib.Path(folder).parent) == []
    warned = [err.count("flock does not work on the file system") for _, err in outputs]
    assert warned == ([1] * 4 if how == "flock fails" else [0] * 4)


def test_a_killed_holder_on_this_machine_is_broken_at_once(
    published, tmp_path, model_root, monkeypatch
):
    repository, uid = published
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    cache = tmp_path / "cache"
    holder = start_script(
        HOLDER, tmp_path, repository, uid, cache, stdout=subprocess.PIPE
    )
    assert holder.stdout.readline().strip() == "holding"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    folder, _ = load_in_process(repository, uid, cache)
    assert files_below(folder) == files_below(model_root)
    assert strays(pathlib.Path(folder).parent) == []


def test_a_lease_of_another_machine_is_broken_when_it_ran_out(
    published, tmp_path, model_root, monkeypatch
):
    repository, uid = published
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    short_id, version = uid.split("-", 1)
    folder = tmp_path / "cache" / short_id
    folder.mkdir(parents=True)
    # A lease as a process on another node leaves it when that node dies.
    lease = folder / f".{version}.lock{_locks.LEASE_SUFFIX}"
    claim = pathlib.Path(f"{lease}|node-7.cluster|4242|1")
    claim.write_text(str(claim))
    os.link(claim, lease)
    # It ran out a moment ago; flufl.lock allows 10 s for clocks that differ.
    runs_out = time.time() - 8
    os.utime(lease, (runs_out, runs_out))
    assert socket.getfqdn() != "node-7.cluster"
    loaded, err = load_in_process(repository, uid, tmp_path / "cache")
    assert "Could not acquire lock" in err  # it waited for the lease to run out
    assert files_below(loaded) == files_below(model_root)
    assert strays(folder) == []


def test_local_file_systems_keep_flock(tmp_path):
    guard = _locks.lock(str(tmp_path / ".x.lock"), 0o644)
    assert not isinstance(guard, _locks.LeaseLock)
    assert _locks.flock_works(str(tmp_path / ".x.lock"))
    assert _locks.filesystem_type(str(tmp_path)) != ""
