"""A member of a cache's group, or a writer to the shared cache, harms no other user.

Each test plants what an attacker could (see ``attackers.py``: as root, a
process of another user in the cache's group), runs the victim's call, and
shows that nothing outside the cache and the repository was created,
changed, deleted or had its mode changed, and that the call either loaded
the right bytes or failed with an error naming what was refused.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import threading
import time
import warnings

from attackers import make_world
from attackers import remove_world
from attackers import state_of
from helpers import files_below
from helpers import publish
import pytest

import audmodel
from audmodel import _locks


@pytest.fixture(params=["private", "group"])
def world(request, monkeypatch):
    made = make_world(request.param)
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(made.cache))
    # Probe flock again for each test: the probe opens the lock file.
    monkeypatch.setattr(_locks, "_flock_works", {})
    yield made
    remove_world(made)


@pytest.fixture
def shared_world(monkeypatch):
    made = make_world("shared")
    shared = made.base / "shared"
    shared.mkdir()
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(made.cache))
    yield made, shared
    remove_world(made)


def load_or_refuse(uid: str) -> str | None:
    """The victim's load: its folder, or None if it failed with a clear error."""
    try:
        return audmodel.load(uid)
    except RuntimeError as ex:
        assert "Refusing" in str(ex), ex
        return None


def check_loaded(folder: str | None, model_root: str) -> None:
    if folder is not None:
        assert files_below(folder) == files_below(model_root)


def model_folder(world, uid: str) -> pathlib.Path:
    short_id = uid.split("-", 1)[0]
    folder = world.cache / short_id
    world.attack(lambda: folder.mkdir(exist_ok=True))
    return folder


def test_a_lock_file_linked_to_a_file_of_the_victim(repository, model_root, world):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    target = world.home / ".ssh" / "authorized_keys"
    world.attack(lambda: (folder / ".1.0.0.lock").symlink_to(target))
    before = state_of(world.home)
    check_loaded(load_or_refuse(uid), model_root)
    assert state_of(world.home) == before


def test_a_missing_file_named_by_a_lock_link_is_not_created(
    repository, model_root, world
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    world.attack(lambda: (folder / ".1.0.0.lock").symlink_to(world.home / "new"))
    before = state_of(world.home)
    check_loaded(load_or_refuse(uid), model_root)
    assert state_of(world.home) == before


def journal_identity(uid: str, cache_root: pathlib.Path, monkeypatch) -> str | None:
    """The first line of a resumable load's journal of ``uid``, as an attacker
    who reads the repository can compute it; None where loads do not resume."""
    from audmodel import _journal

    seen = []
    begin = _journal.Journal.begin

    def spy(self, entries, directory):
        seen.append({"directory": directory, "entries": _journal._digest(entries)})
        return begin(self, entries, directory)

    with monkeypatch.context() as patch:
        patch.setattr(_journal.Journal, "begin", spy)
        audmodel.load(uid, cache_root=str(cache_root))
    return json.dumps(seen[0]) if seen else None


def test_a_staging_folder_with_links_is_not_built_into(
    repository, model_root, world, monkeypatch
):
    uid = publish(model_root)
    identity = journal_identity(uid, world.base / "scratch", monkeypatch)
    folder = model_folder(world, uid)
    partial = folder / ".staging-1.0.0-partial"
    size = os.path.getsize(os.path.join(model_root, "model.onnx"))

    def plant():
        # The folder of a resumable load with a journal that matches the
        # archive: 'model.onnx' (other bytes, the right size) is said to be
        # unpacked, and 'log' leads into the victim's home.
        partial.mkdir()
        (partial / "model.onnx").write_bytes(b"x" * size)
        (partial / "log").symlink_to(world.home)
        journal = folder / ".staging-1.0.0-partial.journal"
        journal.write_text(f'{identity}\n"model.onnx"\n')

    world.attack(plant)
    before = state_of(world.home)
    check_loaded(load_or_refuse(uid), model_root)
    assert state_of(world.home) == before


def test_a_link_in_a_staging_folder_is_refused_when_shared_readable(tmp_path):
    from audmodel import _cache

    folder = tmp_path / "staged"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"weights")
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (folder / "log").symlink_to(home)
    with pytest.raises(RuntimeError, match=r"Refusing '.*log': it is a symbolic link"):
        _cache._share_readable(str(folder))
    assert home.stat().st_mode & 0o777 == 0o700


def test_links_below_an_unpacked_folder_are_never_written_through(tmp_path):
    from audmodel._files import Tree

    folder = tmp_path / "staged"
    folder.mkdir(mode=0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "a").symlink_to(outside)
    with Tree(str(folder)) as tree, pytest.raises(RuntimeError, match="symbolic link"):
        tree.create("a/b.txt")
    assert list(outside.iterdir()) == []


def test_a_folder_others_may_write_into_is_not_unpacked_into(tmp_path):
    from audmodel._files import Tree

    folder = tmp_path / "staged"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(RuntimeError, match="not a folder of this user's alone"):
        Tree(str(folder))


def test_a_model_folder_replaced_by_a_link_is_replaced_back(
    repository, model_root, world
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    world.attack(lambda: (folder / "1.0.0").symlink_to(world.home))
    before = state_of(world.home)
    loaded = load_or_refuse(uid)
    check_loaded(loaded, model_root)
    assert state_of(world.home) == before


def run_with_deadline(call, seconds: float = 30.0):
    """Run a call in a thread; fail if it blocks (e.g. on a FIFO)."""
    result: dict = {}

    def run():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result["value"] = call()
        except BaseException as ex:  # the call's error is an answer too
            result["error"] = ex

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked"
    return result


@pytest.mark.parametrize(
    "name",
    [
        ".1.0.0.files.json",
        ".1.0.0.lock.lease",
        ".staging-1.0.0-partial.journal",
        "1.0.0.header.yaml",
    ],
)
def test_fifos_in_a_model_folder_block_no_call(
    repository, model_root, world, monkeypatch, name
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    world.attack(lambda: os.mkfifo(folder / name, 0o666))
    before = state_of(world.home)
    result = run_with_deadline(lambda: audmodel.load(uid, timeout=20))
    if "value" in result:
        check_loaded(result["value"], model_root)
    run_with_deadline(lambda: audmodel.header(uid))
    run_with_deadline(lambda: audmodel.verify_cached())
    assert state_of(world.home) == before


def test_fifos_at_index_and_alias_records_block_no_call(
    repository, model_root, world, monkeypatch
):
    uid = publish(model_root, alias="best")
    audmodel.load("best")
    folder = world.cache / uid.split("-")[0]

    def plant():
        # The header index and alias records, where they are and were.
        os.mkfifo(world.cache / ".headers.json", 0o666)
        (world.cache / ".aliases").mkdir()
        os.mkfifo(world.cache / ".aliases" / "best", 0o666)
        for name in (".headers.json", ".alias-best"):
            (folder / name).unlink(missing_ok=True)
            os.mkfifo(folder / name, 0o666)

    world.attack(plant)
    result = run_with_deadline(lambda: audmodel.available())
    assert "error" not in result or isinstance(result["error"], RuntimeError)
    monkeypatch.setattr(audmodel.config, "OFFLINE", True)
    result = run_with_deadline(lambda: audmodel.resolve_alias("best"))
    assert result.get("value", uid) == uid


def old_lease(path: pathlib.Path, holder: str) -> None:
    path.write_text(holder)
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))


# Until the planted lease is broken, the victim waits, with a warning.
@pytest.mark.filterwarnings("ignore:Could not acquire lock")
@pytest.mark.parametrize("host", ["elsewhere.example", "here"])
def test_a_planted_lease_removes_no_file_it_names(
    repository, model_root, world, monkeypatch, host
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    host = socket.getfqdn() if host == "here" else host
    # A pid that ran on this machine and is gone: this test's child.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    lease = folder / ".1.0.0.lock.lease"
    victim_file = world.home / f"keep|{host}|{pid}|7"
    victim_file.write_text("the victim's\n")
    world.attack(lambda: old_lease(lease, f"{victim_file}"))
    before = state_of(world.home)
    check_loaded(load_or_refuse(uid), model_root)
    assert victim_file.read_text() == "the victim's\n"
    assert state_of(world.home) == before


def test_a_lease_that_is_a_link_is_removed_not_followed(
    repository, model_root, world, monkeypatch
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "lease")
    target = world.home / "notes.txt"
    world.attack(lambda: (folder / ".1.0.0.lock.lease").symlink_to(target))
    before = state_of(world.home)
    check_loaded(load_or_refuse(uid), model_root)
    assert state_of(world.home) == before


# --- the shared read-only cache --------------------------------------------------


def admin_loads(uid: str, shared: pathlib.Path) -> pathlib.Path:
    return pathlib.Path(audmodel.load(uid, cache_root=str(shared)))


def loads_into_own_cache(uid: str, world, model_root: str) -> None:
    """The victim's load warns of the shared model and loads into its own cache."""
    with pytest.warns(UserWarning, match="differs from its archive"):
        loaded = audmodel.load(uid)
    assert pathlib.Path(loaded).is_relative_to(world.cache)
    check_loaded(loaded, model_root)


@pytest.mark.parametrize("record", ["removed", "rewritten"])
def test_a_changed_shared_model_is_not_used_whatever_its_record_says(
    repository, model_root, shared_world, monkeypatch, record
):
    world, shared = shared_world
    uid = publish(model_root)
    folder = admin_loads(uid, shared)
    world.give_to_attacker(shared)
    files_json = folder.parent / ".1.0.0.files.json"

    def plant():
        (folder / "model.yaml").write_text("layers: 666\n")
        if record == "removed":
            files_json.unlink()
        else:  # a record that says what the changed file is
            import json
            import zlib

            files = json.loads(files_json.read_text())
            data = (folder / "model.yaml").read_bytes()
            files["model.yaml"] = [len(data), zlib.crc32(data)]
            files_json.write_text(json.dumps(files))

    world.attack(plant)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", str(shared))
    loads_into_own_cache(uid, world, model_root)


def test_a_shared_file_swapped_for_one_of_equal_size_and_time_is_seen(
    repository, model_root, shared_world, monkeypatch
):
    world, shared = shared_world
    uid = publish(model_root)
    folder = admin_loads(uid, shared)
    world.give_to_attacker(shared)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", str(shared))
    assert audmodel.load(uid) == str(folder)  # verified once, then stamped

    def plant():
        path = folder / "model.onnx"
        info = path.stat()
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))

    # Setting a file's time back takes its owner: whoever filled the cache.
    plant()
    loads_into_own_cache(uid, world, model_root)


def test_an_unverifiable_shared_model_is_not_used_offline(
    repository, model_root, shared_world, monkeypatch
):
    _, shared = shared_world
    uid = publish(model_root)
    admin_loads(uid, shared)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", str(shared))
    audmodel.header(uid)  # the header is in the user's cache, the record not
    monkeypatch.setattr(audmodel.config, "OFFLINE", True)
    with (
        pytest.warns(UserWarning, match="cannot be verified"),
        pytest.raises(RuntimeError, match="not cached"),
    ):
        audmodel.load(uid)


def test_verify_cached_writes_nothing_into_the_shared_cache(
    repository, model_root, shared_world, monkeypatch
):
    _, shared = shared_world
    uid = publish(model_root)
    folder = admin_loads(uid, shared)
    (folder.parent / ".1.0.0.files.json").unlink()  # as audmodel 1.5 leaves it
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", str(shared))
    before = state_of(shared)
    assert audmodel.verify_cached().empty
    assert state_of(shared) == before


def test_a_planted_folder_of_parts_serves_no_file_and_is_not_written_through(
    repository, model_root, world
):
    uid = publish(model_root)
    folder = model_folder(world, uid)
    size = os.path.getsize(os.path.join(model_root, "model.onnx"))

    def plant():
        # Files fetched on their own, as the victim's would lie there: one
        # of the right size with other bytes, and a folder that leads home.
        parts = folder / ".1.0.0.parts"
        parts.mkdir()
        (parts / "model.onnx").write_bytes(b"x" * size)
        (parts / "log").symlink_to(world.home)

    world.attack(plant)
    before = state_of(world.home)
    for path in ("model.onnx", "log/eval.yaml"):
        try:
            fetched = audmodel.load_file(uid, path)
        except ValueError as ex:  # a RefusedPathError: not the user's alone
            assert "is not this user's alone" in str(ex)
            continue
        assert (
            pathlib.Path(fetched).read_bytes()
            == pathlib.Path(model_root, path).read_bytes()
        )
    assert state_of(world.home) == before
