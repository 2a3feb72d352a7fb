"""One context per public call: each repository opened once, and the policy
of when a call may answer from the cache instead of a repository."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
import warnings

import audbackend
import filelock
from helpers import publish
import pytest

import audmodel
from audmodel import _cache
from audmodel import _ids
from audmodel.backend import _s3


def count_openings(monkeypatch) -> list[audmodel.Repository]:
    opened = []
    create = audmodel.Repository.create_backend_interface

    def counted(self):
        opened.append(self)
        return create(self)

    monkeypatch.setattr(audmodel.Repository, "create_backend_interface", counted)
    return opened


@pytest.mark.parametrize("backend_name", ["file-system", "s3", "artifactory"])
def test_a_call_opens_each_repository_once(repository, model_root, monkeypatch):
    uid = publish(model_root, alias="best")
    opened = count_openings(monkeypatch)
    audmodel.url(uid)  # header, then the repository that holds it
    assert opened == [repository]
    opened.clear()
    audmodel.set_alias("other", uid)  # model, lock, aliases, alias, check
    assert opened == [repository]
    opened.clear()
    audmodel.meta(uid)
    audmodel.header(uid)  # cached: no repository
    assert opened == [repository]


def unreachable_repository() -> audmodel.Repository:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return audmodel.Repository("models", f"http://127.0.0.1:{port}", "s3")


def test_only_an_unreachable_repository_lets_meta_come_from_the_cache(
    flaky_s3, model_root, monkeypatch
):
    proxy, repository = flaky_s3
    uid = publish(model_root)
    assert audmodel.meta(uid) == {}  # cached now
    for fault in ("403", "500"):
        proxy.inject(fault, times=-1)
        with pytest.raises(audbackend.BackendError):
            audmodel.meta(uid)
        proxy.clear()
    missing = audmodel.Repository("no-such-bucket", repository.host, "s3")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [missing])
    with pytest.raises(audbackend.BackendError, match="bucket does not exist"):
        audmodel.meta(uid)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [unreachable_repository()])
    with pytest.warns(UserWarning, match="may be stale"):
        assert audmodel.meta(uid) == {}


def test_every_answer_a_cache_holds_comes_from_it_when_unreachable_only(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    short_id = uid.split("-")[0]
    audmodel.load(uid)  # header, meta and the list of files are cached now
    calls = {
        "exists": lambda: audmodel.exists(uid),
        "files": lambda: sorted(audmodel.files(uid).index),
        "available": lambda: list(audmodel.available().index),
        "versions": lambda: audmodel.versions(short_id),
        "meta": lambda: audmodel.meta(uid),
    }
    online = {name: call() for name, call in calls.items()}
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [unreachable_repository()])
    for name, call in calls.items():
        with pytest.warns(UserWarning, match="No repository can be reached"):
            assert call() == online[name], name
    # What no cache holds is not answered from nothing.
    with pytest.raises(audbackend.BackendError):
        audmodel.files(f"{short_id}-9.9.9")


def test_an_unreachable_repository_is_asked_once_per_call(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    gone = unreachable_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [gone, repository])
    opened = count_openings(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert audmodel.url(uid, type="header").endswith(".header.yaml")
    assert opened == [gone, repository]
    assert len(caught) == 1 and str(gone) in str(caught[0].message)


@pytest.mark.parametrize("backend_name", ["file-system", "s3"])
def test_an_alias_moved_by_another_user_is_seen_from_a_warm_cache(
    repository, model_root, cache
):
    first = publish(model_root, alias="best")
    second = publish(model_root, "2.0.0")
    assert audmodel.load("best") == audmodel.load(first)  # both cached
    audmodel.set_alias("best", second)  # as another user would, elsewhere
    assert audmodel.load("best") == _cache.model_dir(cache, _ids.split_uid(second))
    assert audmodel.resolve_alias("best") == second


def test_the_load_timeout_is_the_one_the_lock_waits(repository, model_root, cache):
    uid = publish(model_root)
    folder = _cache.model_dir(cache, _ids.split_uid(uid))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _cache.lock(folder, timeout=5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        start = time.monotonic()
        with pytest.raises(filelock.Timeout):
            audmodel.load(uid, timeout=0.2)
        assert time.monotonic() - start < 1
    finally:
        release.set()
        holder.join()
    assert audmodel.load(uid, timeout=0.2) == folder


@pytest.mark.parametrize("backend_name", ["s3"])
def test_what_was_learned_of_a_server_stays_out_of_the_cache_root(
    repository, model_root, cache, tmp_path, monkeypatch
):
    monkeypatch.setattr(_s3, "_CONDITIONAL_WRITES", {})  # as in a new process
    uid = publish(model_root, alias="best")  # learns about conditional writes
    audmodel.load("best")
    assert all(os.path.isdir(os.path.join(cache, e)) for e in os.listdir(cache))
    learned = tmp_path / "xdg-cache" / "audmodel" / "learned.json"
    assert json.loads(learned.read_text()) == {
        f"conditional-writes {repository.host}": True
    }
    assert stat.S_IMODE(learned.stat().st_mode) == 0o644
    assert audmodel.exists(uid)


def test_a_learned_fact_others_may_write_is_not_trusted(tmp_path):
    facts = _cache.LearnedFacts(str(tmp_path))
    facts.put("conditional-writes", "http://127.0.0.1:9000", True)
    assert facts.get("conditional-writes", "http://127.0.0.1:9000") is True
    os.chmod(tmp_path / "learned.json", 0o664)  # the group may write it
    assert facts.get("conditional-writes", "http://127.0.0.1:9000") is None
    os.remove(tmp_path / "learned.json")
    (tmp_path / "elsewhere.json").write_text('{"conditional-writes x": true}')
    os.chmod(tmp_path / "elsewhere.json", 0o644)
    os.symlink(tmp_path / "elsewhere.json", tmp_path / "learned.json")
    assert facts.get("conditional-writes", "x") is None  # a link is no answer


def test_a_cold_load_of_a_small_model_reads_its_archive_once_and_keeps_meta(
    flaky_s3, model_root, cache, monkeypatch
):
    proxy, _ = flaky_s3
    uid = publish(model_root, meta={"uar": 0.5})
    start = len(proxy.requests)
    audmodel.load(uid)
    asked = [path.rsplit("/", 1)[-1] for _, path in proxy.requests[start:]]
    assert sorted(asked) == sorted(
        [f"{uid}.header.yaml", f"{uid}.zip", f"{uid}.meta.yaml"]
    )
    monkeypatch.setenv("AUDMODEL_OFFLINE", "1")
    assert audmodel.meta(uid) == {"uar": 0.5}


def test_a_hint_is_looked_up_only_for_an_error_that_reaches_the_user(
    flaky_s3, model_root
):
    proxy, _ = flaky_s3
    uid = publish(model_root)
    missing = uid.replace("1.0.0", "3.0.0")
    start = len(proxy.requests)
    assert not audmodel.exists(missing)  # the error stays inside: one request
    assert len(proxy.requests) - start == 1
    with pytest.raises(RuntimeError) as error:
        audmodel.header(missing)
    # audmodel 1.5's sentence, then the hint.
    assert str(error.value) == (
        f"A model with ID '{missing}' does not exist. Its versions: 1.0.0."
    )
