"""Pruning the cache never breaks a load in progress.

Each test runs a prune (``remove_cached``) at one point of a load, in the
same process: the load holds its model version's lock there, as another
process's load would, and a prune takes that lock without waiting.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import shutil
import time

from helpers import files_below
from helpers import publish
import pytest

import audmodel
from audmodel import _cache
from audmodel import _journal


REMOTE = ["artifactory", "minio", "s3", "s3-s3rver"]
DAY = datetime.timedelta(days=1)


@pytest.fixture(params=["private", "group"])
def cache_setup(request, cache) -> str:
    os.makedirs(cache)
    if request.param == "group":
        os.chmod(cache, 0o2775)
    return request.param


def prune() -> list[str]:
    """What a user's cleaner runs: everything unused for a moment, and more."""
    return audmodel.remove_cached(older_than=datetime.timedelta(0), max_size=0)


def staging_of(cache: str, uid: str) -> pathlib.Path:
    short_id, version = uid.split("-", 1)
    return pathlib.Path(cache, short_id, f".staging-{version}-partial")


def load_with(monkeypatch, target, name: str, before) -> None:
    """Run ``before`` each time ``target.name`` is called, then it."""
    original = getattr(target, name)

    def wrapped(*args, **kwargs):
        before()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)


@pytest.mark.parametrize("backend_name", REMOTE)
@pytest.mark.parametrize(
    "moment",
    ["before the journal", "after the journal", "before placing"],
)
def test_a_prune_during_a_load_leaves_it_whole(
    repository, model_root, cache, cache_setup, monkeypatch, moment
):
    uid = publish(model_root)
    pruned = []
    folder = staging_of(cache, uid)

    def prune_here():
        assert folder.is_dir()  # the load is at the moment named
        pruned.extend(prune())

    if moment == "before the journal":
        load_with(monkeypatch, _journal.Journal, "begin", prune_here)
    elif moment == "after the journal":
        begin = _journal.Journal.begin

        def begin_then_prune(self, *args):
            result = begin(self, *args)
            prune_here()
            return result

        monkeypatch.setattr(_journal.Journal, "begin", begin_then_prune)
    else:
        load_with(monkeypatch, _cache, "place", prune_here)
    loaded = audmodel.load(uid)
    assert files_below(loaded) == files_below(model_root)
    assert pruned == []  # the version being loaded was skipped


@pytest.mark.parametrize("backend_name", ["s3"])
def test_a_staging_folder_without_journal_ages_by_itself(
    repository, model_root, cache, cache_setup
):
    uid = publish(model_root)
    folder = staging_of(cache, uid)
    folder.mkdir(parents=True)
    # Just made by a load (none runs now): young, kept.
    prune()
    assert folder.is_dir()
    # Left for more than a day: removed.
    old = time.time() - DAY.total_seconds() - 60
    os.utime(folder, (old, old))
    prune()
    assert not folder.exists()


@pytest.mark.parametrize("backend_name", REMOTE)
def test_a_staging_folder_removed_by_another_host_is_loaded_again(
    repository, model_root, cache, cache_setup, monkeypatch
):
    uid = publish(model_root)
    folder = staging_of(cache, uid)
    removed = []

    def remove_once():
        # What no lock excludes: another host of a network file system.
        if not removed:
            shutil.rmtree(folder)
            removed.append(folder)

    load_with(monkeypatch, _journal.Journal, "begin", remove_once)
    with pytest.warns(UserWarning, match="was removed while the model was loaded"):
        loaded = audmodel.load(uid)
    assert files_below(loaded) == files_below(model_root)
    assert removed
