"""Removing models and aliases, and copying models between repositories."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import pathlib
import subprocess

import audbackend
from helpers import backend_class
from helpers import backend_files
from helpers import files_below
from helpers import make_file_system_repository
from helpers import publish
from helpers import read_stored
from helpers import stored_path
from helpers import write_stored
import pytest
from servers.fault_proxy import FaultProxy

import audmodel
from audmodel import _store
from audmodel import _transaction


def stored_files(repository: audmodel.Repository) -> set[str]:
    return set(backend_files(repository))


# --- remove ---------------------------------------------------------------------


def test_remove_deletes_every_file_of_the_version(repository, model_root, cache):
    uid = publish(model_root, "1.0.0")
    before = stored_files(repository)
    other = publish(model_root, "2.0.0", alias="best")
    folder = audmodel.load(uid)
    audmodel.remove(uid)
    assert not audmodel.exists(uid)
    assert audmodel.versions(uid.split("-")[0]) == ["2.0.0"]
    # Only the files of 2.0.0 are left, and it still loads.
    left = stored_files(repository)
    assert not left & before
    assert files_below(audmodel.load("best")) == files_below(model_root)
    assert audmodel.resolve_alias("best") == other
    # The cache keeps its copy until it is pruned.
    assert audmodel.load(uid) == folder
    assert files_below(folder) == files_below(model_root)
    audmodel.remove_cached(uid)
    with pytest.raises(RuntimeError, match=f"A model with ID '{uid}' does not exist"):
        audmodel.load(uid)


def test_remove_is_refused_while_aliases_point_to_the_model(repository, model_root):
    uid = publish(model_root, alias="best")
    audmodel.set_alias("production", uid)
    before = {path: read_stored(repository, path) for path in backend_files(repository)}
    with pytest.raises(
        RuntimeError,
        match=r"Cannot remove model '.*': the aliases \['best', 'production'\] point",
    ):
        audmodel.remove(uid)
    after = {path: read_stored(repository, path) for path in backend_files(repository)}
    assert after == before
    audmodel.remove_alias("best")
    audmodel.set_alias("production", publish(model_root, "2.0.0"))  # moved away
    audmodel.remove(uid)
    assert not audmodel.exists(uid)


def test_remove_of_an_unknown_model_raises(repository):
    with pytest.raises(RuntimeError, match=r"A model with ID '12345678-1\.0\.0' does"):
        audmodel.remove("12345678-1.0.0")


def test_remove_alias_deletes_it_and_leaves_the_model(repository, model_root):
    uid = publish(model_root, alias="best")
    audmodel.set_alias("production", uid)
    audmodel.remove_alias("best")
    assert audmodel.aliases(uid) == ["production"]
    with pytest.raises(RuntimeError, match="An alias with name 'best' does not exist"):
        audmodel.resolve_alias("best")
    short_id, version = uid.split("-", 1)
    aliases_file = (
        f"/_uid/{short_id}.aliases/{version}/{short_id}.aliases-{version}.yaml"
    )
    assert read_stored(repository, aliases_file) == b"aliases:\n- production\n"
    assert audmodel.exists(uid)
    with pytest.raises(RuntimeError, match="An alias with name 'best' does not exist"):
        audmodel.remove_alias("best")


def test_interrupted_removal_leaves_orphans_that_repair_removes(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    cls = backend_class(repository)
    # S3 removes in one request (remove_if_there), the others ask first.
    names = [n for n in ("_remove_file", "remove_if_there") if hasattr(cls, n)]
    originals = {name: getattr(cls, name) for name in names}

    def interrupted(original):
        def remove_file(self, path):
            if path.endswith(".zip"):
                raise KeyboardInterrupt
            return original(self, path)

        return remove_file

    for name, original in originals.items():
        monkeypatch.setattr(cls, name, interrupted(original))
    with pytest.raises(KeyboardInterrupt):
        audmodel.remove(uid)
    for name, original in originals.items():
        monkeypatch.setattr(cls, name, original)
    assert not audmodel.exists(uid)
    report = audmodel.check(repository)
    assert list(report["problem"]) == ["archive without header"]
    assert list(report["uid"]) == [uid]
    # Younger than an hour: a repair leaves it, as it might be in progress.
    report = audmodel.check(repository, repair=True)
    assert list(report["action"]) == ["kept: younger than an hour"]
    monkeypatch.setattr("audmodel._check.GRACE_PERIOD", datetime.timedelta(0))
    report = audmodel.check(repository, repair=True)
    assert list(report["action"]) == ["removed"]
    assert backend_files(repository) == []


@contextlib.contextmanager
def deletes_refused(backend_name, repository, monkeypatch, tmp_path):
    """The repository refuses deletions, as for a user without the right."""
    if backend_name == "artifactory":
        with monkeypatch.context() as patch:
            patch.setenv("ARTIFACTORY_USERNAME", "reader")  # may read only
            patch.setenv("ARTIFACTORY_API_KEY", "r-key")
            yield
    elif backend_name == "file-system":
        folder = os.path.join(repository.host, repository.name)
        if os.geteuid() != 0:
            subprocess.run(["chmod", "-R", "a-w", folder], check=True)
            undo = ["chmod", "-R", "u+w", folder]
        elif subprocess.run(["chattr", "-R", "+i", folder]).returncode == 0:
            undo = ["chattr", "-R", "-i", folder]
        else:
            pytest.skip("this file system cannot refuse deletions to root")
        try:
            yield
        finally:
            subprocess.run(undo, check=True)
    else:
        proxy = FaultProxy(repository.host)
        proxy.inject("403", times=-1, method="DELETE")
        proxied = audmodel.Repository(repository.name, proxy.url, repository.backend)
        monkeypatch.setattr(audmodel.config, "REPOSITORIES", [proxied])
        try:
            yield
        finally:
            proxy.stop()
            monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])


def test_refused_deletion_removes_nothing(
    backend_name, repository, model_root, monkeypatch, tmp_path
):
    uid = publish(model_root, alias="best")
    second = publish(model_root, "2.0.0")
    before = {path: read_stored(repository, path) for path in backend_files(repository)}
    with deletes_refused(backend_name, repository, monkeypatch, tmp_path):
        with pytest.raises(audbackend.BackendError, match="Nothing was removed"):
            audmodel.remove(second)
        with pytest.raises(audbackend.BackendError):
            audmodel.remove_alias("best")
    after = {path: read_stored(repository, path) for path in backend_files(repository)}
    assert after == before
    assert audmodel.exists(second)
    assert audmodel.resolve_alias("best") == uid


# --- copy ---------------------------------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_copy_publishes_the_same_model_in_another_repository(
    repository, make_repository, model_root, monkeypatch
):
    uid = publish(model_root, alias="best", meta={"data": "emodb"}, author="alice")
    audmodel.update_meta(uid, {"accuracy": 0.9})
    production = make_repository("production")
    assert audmodel.copy(uid, production, aliases=True) == ["best"]
    source_files = {p: read_stored(repository, p) for p in backend_files(repository)}
    copied_files = {p: read_stored(production, p) for p in backend_files(production)}
    assert {p: md5(d) for p, d in copied_files.items()} == {
        p: md5(d) for p, d in source_files.items()
    }
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [production])
    assert audmodel.header(uid)["author"] == "alice"
    assert audmodel.meta(uid) == {"data": "emodb", "accuracy": 0.9}
    assert audmodel.resolve_alias("best") == uid
    assert audmodel.repository(uid) == production


def test_copy_without_aliases_leaves_them(repository, make_repository, model_root):
    uid = publish(model_root, alias="best")
    production = make_repository("production")
    assert audmodel.copy(uid, production) == []
    assert not [p for p in backend_files(production) if "alias" in p]


def test_copy_is_refused_where_the_model_exists(
    repository, make_repository, model_root
):
    uid = publish(model_root)
    production = make_repository("production")
    audmodel.copy(uid, production)
    before = stored_files(production)
    with pytest.raises(RuntimeError, match=f"A model with ID '{uid}' exists already"):
        audmodel.copy(uid, production)
    with pytest.raises(RuntimeError, match="exists already"):
        audmodel.copy(uid, repository)
    assert stored_files(production) == before
    with pytest.raises(TypeError, match=r"audmodel\.Repository"):
        audmodel.copy(uid, "production")


def test_failed_copy_leaves_nothing_in_the_target(
    repository, make_repository, model_root, monkeypatch
):
    uid = publish(model_root, alias="best")
    production = make_repository("production")
    other = publish(model_root, "2.0.0")
    audmodel.copy(other, production)
    with monkeypatch.context() as patch:
        # In production 'best' points to 2.0.0; the copy would move it.
        patch.setattr(audmodel.config, "REPOSITORIES", [production])
        audmodel.set_alias("best", other)
    before = {p: read_stored(production, p) for p in backend_files(production)}
    cls = backend_class(production)
    original = cls._put_file

    def put_file(self, src_path, dst_path, checksum, verbose):
        if dst_path.endswith(".header.yaml") and self.repository == production.name:
            raise OSError("disk full")
        return original(self, src_path, dst_path, checksum, verbose)

    with monkeypatch.context() as patch:
        patch.setattr(cls, "_put_file", put_file)
        with pytest.raises(RuntimeError, match=r"Could not copy model .*disk full"):
            audmodel.copy(uid, production, aliases=True)
    after = {p: read_stored(production, p) for p in backend_files(production)}
    assert after == before


def test_copy_with_aliases_moves_an_alias_in_the_target(
    repository, make_repository, model_root, monkeypatch
):
    old = publish(model_root, "1.0.0", alias="best")
    production = make_repository("production")
    audmodel.copy(old, production, aliases=True)
    audmodel.remove_alias("best")
    new = publish(model_root, "2.0.0", alias="best")
    assert audmodel.copy(new, production, aliases=True) == ["best"]
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [production])
    assert audmodel.resolve_alias("best") == new
    assert audmodel.aliases(old) == []
    assert audmodel.aliases(new) == ["best"]
    assert audmodel.check(production).empty


def test_copy_from_a_file_system_to_another_backend(
    repository, request, tmp_path, model_root, monkeypatch, capsys
):
    source = make_file_system_repository(request, tmp_path, "development")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [source])
    uid = publish(model_root)
    audmodel.copy(uid, repository)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    assert audmodel.check(repository).empty


@pytest.mark.parametrize("backend_name", ["s3", "minio"])
def test_copy_between_buckets_of_one_store_stays_on_the_server(
    repository, make_repository, model_root, monkeypatch, capsys
):
    uid = publish(model_root)
    production = make_repository("production")
    downloads = []
    with monkeypatch.context() as patch:
        patch.setattr(
            backend_class(production), "_get_file", lambda *a: downloads.append(a)
        )
        audmodel.copy(uid, production, verbose=True)
    assert "on the server" in capsys.readouterr().err
    assert downloads == []
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [production])
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    archive = read_stored(production, stored_path(uid))
    assert md5(archive) == md5(read_stored(repository, stored_path(uid)))


def test_a_failed_copy_over_an_orphan_archive_reads_nothing_and_leaves_nothing(
    make_repository, model_root, monkeypatch
):
    source, target = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [source])
    big = pathlib.Path(model_root, "weights.bin")
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    uid = publish(model_root)
    # An archive of an earlier, failed publication lies in the target.
    archive = stored_path(uid)
    planted = os.urandom(2 * 1024 * 1024)
    write_stored(target, archive, planted)
    read = []
    read_bytes = _store.read_bytes

    def counting(*args, **kwargs):
        data = read_bytes(*args, **kwargs)
        read.append(len(data))
        return data

    monkeypatch.setattr(_store, "read_bytes", counting)
    original = _transaction.UndoLog.put_bytes

    def failing(self, data, path, version, *before):
        if path.endswith(".header.yaml"):
            raise OSError("disk full (injected)")
        return original(self, data, path, version, *before)

    monkeypatch.setattr(_transaction.UndoLog, "put_bytes", failing)
    with pytest.raises(RuntimeError, match="injected"):
        audmodel.copy(uid, target)
    assert max(read, default=0) <= 1024 * 1024  # nothing large was held
    # The orphan belonged to no model: the failure took it with its own files.
    assert backend_files(target) == []
    monkeypatch.setattr(_transaction.UndoLog, "put_bytes", original)
    audmodel.copy(uid, target)
    assert md5(read_stored(target, archive)) == md5(read_stored(source, archive))


def test_removing_an_alias_while_its_model_is_removed_leaves_no_aliases_file(
    repository, model_root, monkeypatch
):
    uid = publish(model_root, alias="best")
    short_id = uid.split("-", 1)[0]
    from audmodel import _layout

    write = _store.write_bytes

    def removed_first(location, data, path, version_):
        if path == _layout.aliases_path(short_id):
            # Another process removes the model between the check of its
            # header and this write.
            for gone in (_layout.header_path(short_id), path):
                _store.remove(location, gone, version_)
        return write(location, data, path, version_)

    monkeypatch.setattr(_store, "write_bytes", removed_first)
    audmodel.remove_alias("best")
    monkeypatch.setattr(_store, "write_bytes", write)
    assert not audmodel.exists(uid)
    leftovers = [f for f in backend_files(repository) if f"/{short_id}." in f]
    assert leftovers == []


def test_a_failed_set_alias_restores_nothing_of_models_removed_meanwhile(
    repository, model_root, monkeypatch
):
    old = publish(model_root, "1.0.0", alias="best")
    new = publish(model_root, "2.0.0")
    from audmodel import _layout

    put_text = _transaction.UndoLog.put_text

    def racing(self, text, path, version, *before):
        put_text(self, text, path, version, *before)
        if path == _layout.alias_path("best"):
            # Both models are removed (by other processes) once the alias
            # points to the new one: set_alias fails and takes back its writes.
            for uid in (new, old):
                short_id, version_ = uid.split("-", 1)
                for gone in (
                    _layout.header_path(short_id),
                    _layout.meta_path(short_id),
                    _layout.aliases_path(short_id),
                ):
                    _store.remove(self.location, gone, version_)

    monkeypatch.setattr(_transaction.UndoLog, "put_text", racing)
    with pytest.raises(RuntimeError, match="does not exist"):
        audmodel.set_alias("best", new)
    monkeypatch.setattr(_transaction.UndoLog, "put_text", put_text)
    left = [f for f in backend_files(repository) if "/_uid/" in f or "/_alias/" in f]
    assert left == []  # no aliases file, no alias, pointing to nothing
