"""Released audmodel versions (1.5.3, 1.4.1): their own tests and pages pass
against this package, and a cache
is used by both, in turns.

The releases come from the package index (see ``audmodel_releases``); where
they cannot be had, these tests skip, and under CI they fail.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree

from audmodel_releases import HERE
from audmodel_releases import env_of
from audmodel_releases import fetch
import filelock
import pytest

import audmodel
from audmodel import _ids


def fetched(version: str):
    found = fetch(version)
    if isinstance(found, str):
        if os.environ.get("CI"):
            pytest.fail(found)
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def release():
    return fetched("1.5.3")


def run_pytest(
    folder: pathlib.Path,
    home: pathlib.Path,
    *args: str,
    env: dict | None = None,
    cache: pathlib.Path | None = None,
) -> dict:
    """Run pytest in a process of its own; each test's outcome and message.

    ``home`` is its home folder; ``cache``, if given, the cache of all its
    calls (``AUDMODEL_CACHE_ROOT`` wins over the one the tests configure);
    ``env``, more environment variables.
    """
    report = folder / "report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    command += ["-o", "addopts=", "-q", f"--junitxml={report}", *args]
    env = {**os.environ, "HOME": str(home), **(env or {})}
    if cache is None:
        env.pop("AUDMODEL_CACHE_ROOT", None)
    else:
        env["AUDMODEL_CACHE_ROOT"] = str(cache)
    subprocess.run(command, cwd=folder, env=env, capture_output=True, timeout=600)
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped") is not None
        outcomes[name] = (
            "skipped" if skipped else "passed" if problem is None else "failed",
            ""
            if problem is None
            else problem.get("message", "") + (problem.text or ""),
        )
    return outcomes


def reaches_into_core(message: str) -> bool:
    """Whether a test failed because it uses the release's private ``audmodel.core``."""
    return "audmodel.core" in message or "attribute 'core'" in message


def needs_a_gone_class(name: str, message: str) -> bool:
    """Whether a test failed for want of audbackend's Artifactory backend class,
    which audbackend 3 no longer has (1.4.1 takes ``None`` for it then)."""
    return "artifactory" in name and "isinstance() arg 2 must be a type" in message


@pytest.mark.parametrize("cache", ["empty", "filled by 1.5.3"])
def test_audmodel_153s_tests_pass_but_those_that_reach_into_its_core(
    release, tmp_path, cache
):
    shutil.copytree(release.source / "tests", tmp_path / "tests")
    home, shared, args = tmp_path / "home", None, ["tests"]
    if cache != "empty":
        # The same models, loaded by 1.5.3 into one cache first. Its test of
        # AUDMODEL_CACHE_ROOT sets the variable for all tests at import, so
        # it runs in the other case only.
        shared = tmp_path / "cache"
        args += ["--ignore=tests/test_default_cache_root.py"]
        ran = run_pytest(tmp_path, home, *args, env=env_of(release), cache=shared)
        assert os.listdir(shared) and len(ran) > 50
    outcomes = run_pytest(
        tmp_path, home, *args, "--continue-on-collection-errors", cache=shared
    )
    passed = [name for name, (outcome, _) in outcomes.items() if outcome == "passed"]
    others = {
        name: message
        for name, (outcome, message) in outcomes.items()
        if outcome == "failed" and not reaches_into_core(message)
    }
    assert others == {}
    assert len(passed) >= 50, sorted(outcomes)
    # Among them the publishing and loading of aliased, empty models.
    assert "tests.test_alias::test_load_with_alias" in passed


def test_audmodel_141s_tests_pass_but_those_that_reach_into_its_core(tmp_path):
    older = fetched("1.4.1")
    shutil.copytree(older.source / "tests", tmp_path / "tests")
    outcomes = run_pytest(
        tmp_path, tmp_path / "home", "tests", "--continue-on-collection-errors"
    )
    passed = [name for name, (outcome, _) in outcomes.items() if outcome == "passed"]
    others = {
        name: message
        for name, (outcome, message) in outcomes.items()
        if outcome == "failed"
        and not (reaches_into_core(message) or needs_a_gone_class(name, message))
    }
    assert others == {}
    assert len(passed) >= 30, sorted(outcomes)


def test_audmodel_153s_usage_and_configuration_pages_pass(release, tmp_path):
    for page in ("usage.rst", "configuration.rst"):
        shutil.copy(release.source / "docs" / page, tmp_path / page)
    shutil.copy(HERE / "docs_conftest.py", tmp_path / "conftest.py")
    outcomes = run_pytest(tmp_path, tmp_path / "home", ".")
    failed = {name: m for name, (o, m) in outcomes.items() if o == "failed"}
    assert failed == {}
    assert len(outcomes) >= 40


SCRIPT = """
import os, sys, warnings
warnings.simplefilter("ignore")
import audmodel
audmodel.config.CACHE_ROOT = sys.argv[1]
repository = audmodel.Repository("models", sys.argv[2], "file-system")
audmodel.config.REPOSITORIES = [repository]
{code}
"""


def in_process(release, code: str, cache: str, host: str, ours: bool) -> str:
    """Run ``code`` with audmodel 1.5.3 (``ours`` false) or this package."""
    env = dict(os.environ) if ours else env_of(release)
    source = SCRIPT.format(code=textwrap.dedent(code))
    # Run elsewhere: the folder of this clone holds our audmodel.
    done = subprocess.run(
        [sys.executable, "-c", source, cache, host],
        env=env,
        cwd=os.path.dirname(cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.fixture
def one_repository(tmp_path, monkeypatch) -> tuple[pathlib.Path, str]:
    """A file-system repository, the only one configured; a cache for both."""
    host = tmp_path / "host"
    (host / "models").mkdir(parents=True)
    repository = audmodel.Repository("models", str(host), "file-system")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    return host, str(tmp_path / "cache")


def test_a_cache_used_alternately_by_audmodel_153_and_by_us(
    release, tmp_path, model_root
):
    host = tmp_path / "host"
    (host / "models").mkdir(parents=True)
    cache = str(tmp_path / "cache")
    which = "print(audmodel.__file__)"
    assert str(release.package) in in_process(release, which, cache, str(host), False)
    # 1.5.3 publishes two models with aliases and loads one by its alias.
    publish = f"""
        for version, alias in [("1.0.0", "first"), ("2.0.0", "second")]:
            audmodel.publish({model_root!r}, "torch", {{"a": 1}}, version,
                             alias=alias, author="tester",
                             repository=audmodel.config.REPOSITORIES[0])
        print(audmodel.load("first"))
    """
    first = in_process(release, publish, cache, str(host), False)
    # We load it by its alias (cached already) and the other one.
    ours = """
        print(audmodel.load("first"))
        print(audmodel.load("second"))
    """
    mine = in_process(release, ours, cache, str(host), True).splitlines()
    assert mine[0] == first
    # Offline, we resolve both aliases from what our loads kept.
    offline = """
        audmodel.config.OFFLINE = True
        print(audmodel.load("first"), audmodel.load("second"))
    """
    assert in_process(release, offline, cache, str(host), True).split() == mine
    # 1.5.3 loads the model we loaded, from the cache, and lists the cache.
    theirs = """
        import audeer
        print(audmodel.load("second"))
        print(audeer.list_dir_names(audmodel.config.CACHE_ROOT, basenames=True))
    """
    loaded, listed = in_process(release, theirs, cache, str(host), False).splitlines()
    assert loaded == mine[1]
    short_id = os.path.basename(os.path.dirname(first))
    assert listed == repr([short_id])
    assert sorted(os.listdir(cache)) == [short_id] or all(
        name == short_id or not os.path.isdir(os.path.join(cache, name))
        for name in os.listdir(cache)
    )


def test_audmodel_153_never_takes_files_fetched_on_their_own_for_the_model(
    release, one_repository, model_root
):
    from helpers import files_below

    host, cache = one_repository
    uid = audmodel.publish(model_root, "torch", {"a": 1}, "1.0.0", author="t")
    # We fetch one file and a pattern of them, then 1.5.3 loads the model.
    audmodel.load_file(uid, "model.yaml", cache_root=cache)
    audmodel.load(uid, files="log/*", cache_root=cache)
    theirs = in_process(
        release, f"print(audmodel.load({uid!r}))", cache, str(host), False
    )
    assert theirs == os.path.join(cache, *uid.split("-", 1))
    assert files_below(theirs) == files_below(model_root)
    # We take the folder 1.5.3 loaded as the whole model.
    assert audmodel.load(uid, cache_root=cache) == theirs
    assert audmodel.load_file(uid, "model.onnx", cache_root=cache) == os.path.join(
        theirs, "model.onnx"
    )


def test_audmodel_153_lists_and_loads_signed_models(
    release, one_repository, model_root, tmp_path
):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from helpers import files_below

    host, cache = one_repository
    key = tmp_path / "key.pem"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    uid = audmodel.publish(
        model_root, "torch", {"a": 1}, "1.0.0", author="t", signing_key=str(key)
    )
    audmodel.publish(model_root, "torch", {"a": 1}, "2.0.0", author="t")
    short_id = uid.split("-")[0]
    theirs = f"""
        print(audmodel.versions({short_id!r}))
        print(audmodel.header({uid!r})["version"])
        print(audmodel.load({uid!r}))
    """
    versions, version, folder = in_process(
        release, theirs, cache, str(host), False
    ).splitlines()
    assert versions == "['1.0.0', '2.0.0']"
    assert version == "1.0.0"
    assert files_below(folder) == files_below(model_root)


def test_a_lock_held_by_audmodel_153_makes_us_wait_and_the_reverse(
    release, one_repository, model_root, tmp_path
):
    host, cache = one_repository
    uid = audmodel.publish(model_root, "torch", {"a": 1}, "1.0.0", author="t")
    # 1.5.3 holds the lock of the model's folder (with its own lock code)
    # while we try to load it with a short timeout, and the reverse.
    hold = f"""
        import time
        from audmodel.core.lock import lock
        folder = os.path.join(audmodel.config.CACHE_ROOT, *{uid!r}.split("-", 1))
        with lock(folder):
            print("held", flush=True)
            time.sleep(3)
    """
    source = SCRIPT.format(code=textwrap.dedent(hold))
    holder = subprocess.Popen(
        [sys.executable, "-c", source, cache, str(host)],
        env=env_of(release),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"

    with pytest.warns(UserWarning, match="Could not acquire lock"):
        with pytest.raises(filelock.Timeout):
            audmodel.load(uid, cache_root=cache, timeout=0.5)
    holder.wait(timeout=30)
    holder.stdout.close()
    assert audmodel.load(uid, cache_root=cache)
    theirs = f"""
        print(audmodel.load({uid!r}, timeout=0.5))
    """
    source = SCRIPT.format(code=textwrap.dedent(theirs))

    def load_with_153() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", source, cache, str(host)],
            env=env_of(release),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with audmodel_lock_of(cache, uid):
        waited = load_with_153()
    # 1.5.3 locks a model's folder on every load, cached or not.
    assert waited.returncode != 0
    assert "could not be acquired" in waited.stderr
    done = load_with_153()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == audmodel.load(uid, cache_root=cache)


def audmodel_lock_of(cache: str, uid: str):
    from audmodel import _cache

    return _cache.lock(_cache.model_dir(cache, _ids.split_uid(uid)), timeout=5)
