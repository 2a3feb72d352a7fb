"""On a compute cluster: a shared read-only cache, offline use, and
repositories that cannot be reached."""

from __future__ import annotations

import os
import socket
import stat
import warnings

from helpers import REMOTE_BACKENDS
from helpers import publish
import pytest

import audmodel
from audmodel import _config


def tree(root: str) -> dict[str, tuple[int, int]]:
    """Every file and folder below root, with its size and modification time."""
    found = {}
    for folder, names, files in os.walk(root):
        for name in names + files:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), root)] = (
                info.st_size,
                info.st_mtime_ns,
            )
    return found


@pytest.fixture
def shared(tmp_path, monkeypatch) -> str:
    """A shared cache folder, group-writable as an administrator makes it."""
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o2775)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", str(root))
    return str(root)


# --- settings ---------------------------------------------------------------------


def test_shared_cache_root_from_config_file_and_environment(tmp_path, monkeypatch):
    assert audmodel.default_cache_root(shared=True) is None
    user_file = tmp_path / "audmodel.yaml"
    user_file.write_text(
        "shared_cache_root: /data/audmodel\noffline: true\ncache_lock: lease\n"
    )
    monkeypatch.setattr(_config, "USER_CONFIG_FILE", str(user_file))
    for name in ["SHARED_CACHE_ROOT", "OFFLINE", "CACHE_LOCK"]:
        monkeypatch.delattr(audmodel.config, name)
    assert audmodel.default_cache_root(shared=True) == "/data/audmodel"
    assert audmodel.config.OFFLINE is True and _config.offline()
    assert _config.cache_lock() == "lease"
    # The environment wins.
    monkeypatch.setenv("AUDMODEL_SHARED_CACHE_ROOT", "/scratch/models")
    monkeypatch.setenv("AUDMODEL_OFFLINE", "0")
    monkeypatch.setenv("AUDMODEL_CACHE_LOCK", "auto")
    assert audmodel.default_cache_root(shared=True) == "/scratch/models"
    assert not _config.offline()
    assert _config.cache_lock() == "auto"
    assert audmodel.default_cache_root() != "/scratch/models"


@pytest.mark.parametrize(
    "entry, wrong",
    [("offline: maybe", "'offline'"), ("cache_lock: flock", "'cache_lock'")],
)
def test_a_wrong_setting_is_named(tmp_path, monkeypatch, entry, wrong):
    user_file = tmp_path / "audmodel.yaml"
    user_file.write_text(entry + "\n")
    monkeypatch.setattr(_config, "USER_CONFIG_FILE", str(user_file))
    with pytest.raises(ValueError, match=wrong):
        _config.load_config()
    monkeypatch.setenv("AUDMODEL_OFFLINE", "perhaps")
    with pytest.raises(ValueError, match="AUDMODEL_OFFLINE"):
        _config.offline()


# --- the shared cache ----------------------------------------------------------


def test_load_takes_a_model_from_the_shared_cache_and_writes_nothing_there(
    tmp_path, shared, model_root, cache, repository
):
    uid = publish(model_root)
    # The administrator fills the shared cache.
    filled = audmodel.load(uid, cache_root=shared)
    assert filled.startswith(shared)
    lock = os.path.join(os.path.dirname(filled), ".1.0.0.lock")
    assert stat.S_IMODE(os.stat(lock).st_mode) & stat.S_IWGRP  # group-writable
    for name in os.listdir(filled):
        assert os.stat(os.path.join(filled, name)).st_mode & stat.S_IRGRP
    before = tree(shared)
    # A user reads it there: verified once against the repository's record
    # of the archive, then also with no repository at hand.
    assert audmodel.load(uid) == filled
    audmodel.config.REPOSITORIES = [
        audmodel.Repository("gone", str(tmp_path / "nowhere"), "file-system")
    ]
    assert audmodel.load(uid) == filled
    assert audmodel.header(uid)["name"] == "torch"
    assert tree(shared) == before  # no lock, no record, nothing
    assert not os.path.exists(os.path.join(cache, uid.split("-")[0], "1.0.0"))
    table = audmodel.cached()
    assert list(table["cache"]) == ["shared"]
    assert audmodel.verify_cached().empty


def test_headers_and_meta_are_read_from_the_shared_cache(
    tmp_path, shared, model_root, cache, request
):
    from helpers import make_file_system_repository

    from audmodel import _ui

    repository = make_file_system_repository(request, tmp_path, "models")
    audmodel.config.REPOSITORIES = [repository]
    uid = publish(model_root, meta={"uar": 0.7})
    short_id = uid.split("-")[0]
    audmodel.load(uid, cache_root=shared)  # as an administrator fills it
    audmodel.meta(uid, cache_root=shared)
    audmodel.available(cache_root=shared)
    before = tree(shared)
    assert audmodel.meta(uid) == {"uar": 0.7}
    assert list(audmodel.available().index) == [uid]
    catalog = _ui.Catalog([repository], cache, shared=shared)
    model = catalog.snapshot().model(uid)
    assert _ui.model_page(catalog, catalog.snapshot(), uid)["meta"] == {"uar": 0.7}
    assert model is not None
    assert tree(shared) == before
    # The current copy in the shared cache was read, not copied.
    assert not os.path.exists(os.path.join(cache, short_id, "1.0.0.meta.yaml"))
    assert not os.path.exists(os.path.join(cache, short_id, "1.0.0.header.yaml"))


def test_a_shared_model_that_fails_verification_is_not_used(
    tmp_path, shared, model_root, cache, request
):
    from helpers import make_file_system_repository

    repository = make_file_system_repository(request, tmp_path, "models")
    audmodel.config.REPOSITORIES = [repository]
    uid = publish(model_root)
    filled = audmodel.load(uid, cache_root=shared)
    assert audmodel.load(uid) == filled  # verified once, and remembered
    weights = os.path.join(filled, "model.onnx")
    with open(weights, "r+b") as fp:  # same size, other bytes
        fp.write(b"\0" * 16)
    with pytest.warns(UserWarning, match=f"'{uid}' in the shared cache .* changed"):
        folder = audmodel.load(uid)
    assert folder.startswith(cache)
    assert (
        open(os.path.join(folder, "model.onnx"), "rb").read()
        == open(os.path.join(model_root, "model.onnx"), "rb").read()
    )
    assert sorted(audmodel.cached()["cache"]) == ["shared", "user"]
    # remove_cached leaves the shared cache alone unless it is named.
    assert audmodel.remove_cached(uid) == [uid]
    assert os.path.isdir(filled)
    assert audmodel.remove_cached(uid, cache_root=shared) == [uid]
    assert not os.path.exists(filled)


# --- offline ----------------------------------------------------------------------


def test_offline_answers_from_the_caches(repository, model_root, monkeypatch):
    uid = publish(model_root, alias="production", meta={"uar": 0.5})
    short_id = uid.split("-")[0]
    folder = audmodel.load("production")
    audmodel.meta(uid)
    audmodel.available()  # fills the header index
    monkeypatch.setenv("AUDMODEL_OFFLINE", "1")
    assert audmodel.load("production") == folder
    assert audmodel.load(short_id) == folder
    assert audmodel.resolve_alias("production") == uid
    assert audmodel.header(uid)["name"] == "torch"
    assert audmodel.meta(uid) == {"uar": 0.5}
    assert audmodel.exists(uid) and not audmodel.exists(f"{short_id}-9.9.9")
    assert audmodel.versions(short_id) == ["1.0.0"]
    assert audmodel.latest_version(uid) == "1.0.0"
    files = audmodel.files(uid)
    assert sorted(files.index) == ["log/eval.yaml", "model.onnx", "model.yaml"]
    assert files.loc["model.onnx", "size"] == 2048
    assert list(audmodel.available().index) == [uid]
    assert list(audmodel.lookup_table("torch").index) == [uid]


def test_offline_after_one_load_answers_listings_and_meta_and_says_so(
    repository, model_root, monkeypatch, capsys
):
    from audmodel._cli import main

    uid = publish(model_root, alias="production", meta={"uar": 0.5})
    short_id = uid.split("-")[0]
    audmodel.load("production")  # nothing else was asked online
    monkeypatch.setenv("AUDMODEL_OFFLINE", "1")
    assert audmodel.meta(uid) == {"uar": 0.5}  # kept by the load
    assert list(audmodel.available().index) == [uid]
    assert list(audmodel.lookup_table("torch").index) == [uid]
    capsys.readouterr()
    for argv, said, answer in [
        (["ls"], "the models listed are those the caches hold", uid),
        (["lookup", "torch"], "the models listed are those the caches hold", uid),
        (["versions", short_id], f"the versions of '{short_id}' are those", "1.0.0"),
        (["meta", uid], f"the meta of '{uid}' is as it was when last read", "uar"),
    ]:
        assert main(argv) == 0
        out, err = capsys.readouterr()
        (line,) = err.splitlines()  # one line
        assert line.startswith(f"audmodel: note: Offline: {said}")
        assert answer in out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the Python API tells no note
        assert audmodel.versions(short_id) == ["1.0.0"]
    assert capsys.readouterr().err == ""


def test_alias_records_are_not_written_through_a_planted_link(
    repository, model_root, cache, tmp_path, monkeypatch
):
    uid = publish(model_root, alias="best")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.makedirs(cache)
    os.symlink(elsewhere, os.path.join(cache, ".aliases"))
    assert audmodel.resolve_alias("best") == uid
    assert list(elsewhere.iterdir()) == []
    monkeypatch.setenv("AUDMODEL_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="Alias 'best' is not cached"):
        audmodel.resolve_alias("best")


def test_offline_refuses_what_needs_a_repository_at_once(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    monkeypatch.setattr(audmodel.config, "OFFLINE", True)
    calls = {
        "publish": lambda: publish(model_root, "2.0.0"),
        "set_alias": lambda: audmodel.set_alias("best", uid),
        "remove": lambda: audmodel.remove(uid),
        "copy": lambda: audmodel.copy(uid, repository),
        "check": lambda: audmodel.check(repository),
        "url": lambda: audmodel.url(uid),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match="Offline mode is on") as error:
            call()
        assert "AUDMODEL_OFFLINE" in str(error.value), name
    monkeypatch.setattr(audmodel.config, "OFFLINE", False)
    assert audmodel.versions(uid) == ["1.0.0"]  # nothing was published


def test_offline_names_what_is_not_cached(repository, model_root, monkeypatch, cache):
    uid = publish(model_root, alias="best")
    monkeypatch.setenv("AUDMODEL_OFFLINE", "true")
    with pytest.raises(RuntimeError, match=f"Model '{uid}' is not cached"):
        audmodel.load(uid)
    with pytest.raises(RuntimeError, match="Alias 'best' is not cached"):
        audmodel.load("best")
    with pytest.raises(RuntimeError, match=f"Model '{uid}' is not cached"):
        audmodel.header(uid)
    # Nothing was begun: no folder, no staging leftovers, no lock.
    assert not os.path.exists(os.path.join(cache, uid.split("-")[0]))


# --- repositories that cannot be reached ------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens once it is closed


# A file system is reached or missing, never unreachable.
@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_unreachable_repository_loads_from_the_cache_with_a_warning(
    repository, model_root, monkeypatch
):
    uid = publish(model_root, alias="production")
    folder = audmodel.load("production")
    audmodel.meta(uid)
    # The same repository, its server gone: nothing listens on its port.
    path = repository.host.split("://", 1)[1].split("/", 1)[1:]
    host = f"http://127.0.0.1:{closed_port()}" + "".join(f"/{p}" for p in path)
    gone = audmodel.Repository(repository.name, host, repository.backend)
    audmodel.config.REPOSITORIES = [gone]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert audmodel.load(uid) == folder  # a full ID asks no repository
    with pytest.warns(UserWarning, match="alias 'production' .* may be stale"):
        assert audmodel.load("production") == folder
    with pytest.warns(UserWarning, match="versions of .* may be stale"):
        assert audmodel.load(uid.split("-")[0]) == folder
    with pytest.warns(UserWarning, match="meta .* may be stale"):
        assert audmodel.meta(uid) == {}
    # What is not cached still fails, naming the repository.
    with pytest.raises(audmodel_backend_error()):
        audmodel.load("other-alias")


def audmodel_backend_error() -> type:
    import audbackend

    return audbackend.BackendError


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS)
def test_versions_come_from_the_repositories_that_answer(
    make_repository, model_root, monkeypatch, tmp_path
):
    first, second = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first])
    uid = publish(model_root, "1.0.0")
    audmodel.header(uid)  # 1.0.0 is in the cache
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [second])
    newer = publish(model_root, "2.0.0")
    path = first.host.split("://", 1)[1].split("/", 1)[1:]
    host = f"http://127.0.0.1:{closed_port()}" + "".join(f"/{p}" for p in path)
    gone = audmodel.Repository(first.name, host, first.backend)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [gone, second])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert audmodel.versions(uid) == ["1.0.0", "2.0.0"]
        assert audmodel.latest_version(uid) == "2.0.0"
        assert audmodel.header(newer)["version"] == "2.0.0"
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3 and all("\n" not in m for m in messages)
    assert all(m.startswith(f"Cannot reach {gone}") for m in messages), messages
    assert "No repository can be reached" not in " ".join(messages)
