"""Checking and repairing repositories: every kind of damage, on every backend."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import textwrap
import time

from helpers import backend_files
from helpers import files_below
from helpers import publish
from helpers import raw_client
from helpers import read_stored
from helpers import start_script
from helpers import stored_path
from helpers import write_stored
import pytest

import audmodel
from audmodel import _ids


@pytest.fixture
def no_grace(monkeypatch):
    """Let a repair remove files however young they are."""
    monkeypatch.setattr("audmodel._check.GRACE_PERIOD", datetime.timedelta(0))


@pytest.fixture
def healthy(repository, model_root) -> str:
    """A sound model with an alias, which no repair may touch."""
    uid = publish(model_root, "9.0.0", alias="healthy", meta={"a": 1})
    assert audmodel.check(repository).empty
    return uid


def versioned(short_id: str, version: str, kind: str) -> str:
    """Stored path of a file below '_uid/'."""
    if kind == "aliases":  # not a registered extension: stored oddly
        base = f"{short_id}.aliases"
        return f"/_uid/{base}/{version}/{base}-{version}.yaml"
    if kind == "publishing":
        base = f"{short_id}.publishing"
        return f"/_uid/{base}/{version}/{base}-{version}.yaml"
    return f"/_uid/{short_id}/{version}/{short_id}-{version}.{kind}.yaml"


def alias_file(alias: str) -> str:
    return f"/_alias/{alias}/1.0.0/{alias}-1.0.0.alias.yaml"


def remove_stored(repository: audmodel.Repository, path: str) -> None:
    with repository.create_backend_interface().backend as backend:
        backend.remove_file(path)


def problems(report) -> list[tuple[str, str]]:
    return sorted(zip(report["problem"], report["uid"], strict=True))


def assert_healthy_survives(repository, healthy, model_root):
    assert files_below(audmodel.load(healthy)) == files_below(model_root)
    assert audmodel.meta(healthy) == {"a": 1}
    assert audmodel.resolve_alias("healthy") == healthy


def test_archive_without_header_is_removed(repository, healthy, model_root, no_grace):
    uid = publish(model_root)
    short_id, version = uid.split("-")
    remove_stored(repository, versioned(short_id, version, "header"))
    report = audmodel.check(repository)
    assert problems(report) == [
        ("archive without header", uid),
        ("file without header", uid),  # its meta
    ]
    assert set(report["action"]) == {""}
    report = audmodel.check(repository, repair=True)
    assert set(report["action"]) == {"removed"}
    assert audmodel.check(repository).empty
    assert not [f for f in backend_files(repository) if short_id in f and "1.0.0" in f]
    assert_healthy_survives(repository, healthy, model_root)


def test_young_orphans_are_kept(repository, model_root):
    uid = publish(model_root)
    short_id, version = uid.split("-")
    remove_stored(repository, versioned(short_id, version, "header"))
    before = backend_files(repository)
    report = audmodel.check(repository, repair=True)
    assert set(report["action"]) == {"kept: younger than an hour"}
    assert backend_files(repository) == before


def test_header_without_archive_is_left_to_the_user(
    repository, healthy, model_root, no_grace
):
    uid = publish(model_root)
    archive = stored_path(uid)
    remove_stored(repository, archive)
    report = audmodel.check(repository, repair=True)
    assert problems(report) == [("header without archive", uid)]
    assert report["action"][0].startswith("left to you")
    assert audmodel.exists(uid)
    audmodel.remove(uid)  # how the user mends it
    assert audmodel.check(repository).empty
    assert_healthy_survives(repository, healthy, model_root)


def test_broken_archive_is_reported(repository, healthy, model_root, no_grace):
    uid = publish(model_root)
    archive = stored_path(uid)
    data = bytearray(read_stored(repository, archive))
    data[40] ^= 0xFF  # in the first entry's bytes
    write_stored(repository, archive, bytes(data))
    report = audmodel.check(repository, repair=True)
    assert problems(report) == [("archive broken", uid)]
    assert "CRC" in report["detail"][0] or "broken" in report["detail"][0]
    assert report["action"][0].startswith("left to you")
    assert read_stored(repository, archive) == bytes(data)
    assert_healthy_survives(repository, healthy, model_root)


@pytest.mark.parametrize("backend_name", ["s3"])
def test_archive_that_fails_its_md5_is_reported(repository, model_root):
    uid = publish(model_root)
    key = stored_path(uid).removeprefix("/")
    client = raw_client(repository.host)
    client.put_object(
        Bucket=repository.name,
        Key=key,
        Body=read_stored(repository, stored_path(uid)),
        Metadata={"checksum": "0" * 32},
    )
    report = audmodel.check(repository)
    assert problems(report) == [("archive broken", uid)]
    assert "MD5" in report["detail"][0]


def test_missing_meta_is_written_empty(repository, healthy, model_root, no_grace):
    uid = publish(model_root, meta={"x": 1})
    short_id, version = uid.split("-")
    remove_stored(repository, versioned(short_id, version, "meta"))
    report = audmodel.check(repository, repair=True)
    assert problems(report) == [("meta missing", uid)]
    assert report["action"][0].startswith("fixed")
    assert audmodel.meta(uid) == {}
    assert audmodel.check(repository).empty
    assert_healthy_survives(repository, healthy, model_root)


def test_alias_to_nothing_is_removed(repository, healthy, model_root, no_grace):
    write_stored(repository, alias_file("ghost"), b"uid: 12345678-1.0.0\n")
    write_stored(repository, alias_file("garbled"), b"uid: [unclosed\n")
    report = audmodel.check(repository)
    assert problems(report) == [
        ("alias points to nothing", "ghost"),
        ("alias unreadable", "garbled"),
    ]
    report = audmodel.check(repository, repair=True)
    assert set(report["action"]) == {"removed"}
    assert audmodel.check(repository).empty
    assert_healthy_survives(repository, healthy, model_root)


def test_aliases_files_are_fixed(repository, healthy, model_root, no_grace):
    first = publish(model_root, "1.0.0", alias="best")
    second = publish(model_root, "2.0.0")
    # The alias file is moved behind the aliases files' back.
    write_stored(repository, alias_file("best"), f"uid: {second}\n".encode())
    report = audmodel.check(repository)
    assert problems(report) == [
        ("aliases file wrong", first),
        ("aliases file wrong", second),
    ]
    details = dict(zip(report["uid"], report["detail"], strict=True))
    assert details[first] == "it lists ['best'], which point elsewhere"
    assert details[second] == "it misses ['best']"
    audmodel.check(repository, repair=True)
    assert audmodel.check(repository).empty
    assert audmodel.aliases(first) == []
    assert audmodel.aliases(second) == ["best"]
    assert_healthy_survives(repository, healthy, model_root)


def test_claims_and_tickets_of_dead_publishers_are_removed(
    repository, healthy, model_root
):
    dead = _dead_pid()
    uid = audmodel.uid("torch", {}, "1.0.0")
    short_id, version = uid.split("-")
    claim = versioned(short_id, version, "publishing")
    text = f"owner: someone\nhost: {socket.gethostname()}\npid: {dead}\n"
    write_stored(repository, claim, text.encode())
    old = int((time.time() - 3600) * 1e9)
    ticket = f"{claim}.{old:x}-0badcafe.ticket"
    write_stored(repository, ticket, b"ticket")
    report = audmodel.check(repository)
    assert sorted(report["problem"]) == [
        "claim of a dead publisher",
        "ticket of a dead publisher",
    ]
    # Both are leftovers whatever their age: no grace is needed.
    report = audmodel.check(repository, repair=True)
    assert set(report["action"]) == {"removed"}
    assert audmodel.check(repository).empty
    assert publish(model_root, params={}) == uid
    assert_healthy_survives(repository, healthy, model_root)


def test_claim_of_a_live_publisher_is_no_problem(repository, model_root):
    uid = audmodel.uid("torch", {}, "1.0.0")
    short_id, version = uid.split("-")
    text = f"owner: me\nhost: {socket.gethostname()}\npid: {os.getpid()}\n"
    write_stored(repository, versioned(short_id, version, "publishing"), text.encode())
    write_stored(repository, f"/torch/{short_id}/{version}/{uid}.zip", b"uploading")
    assert audmodel.check(repository, repair=True).empty
    assert len(backend_files(repository)) == 2


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


KILLED_PUBLISH = textwrap.dedent(
    """
    import os, signal, sys
    import audmodel
    from audmodel import _transaction

    repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
    audmodel.config.REPOSITORIES = [repository]
    put_text = _transaction.UndoLog.put_text

    def killed_before_header(self, text, path, version, *before):
        if path.endswith(".header.yaml"):
            os.kill(os.getpid(), signal.SIGKILL)
        return put_text(self, text, path, version, *before)

    _transaction.UndoLog.put_text = killed_before_header
    audmodel.publish(sys.argv[4], "torch", {}, "1.0.0")
    """
)


def test_publication_killed_before_its_header_is_found(
    repository, model_root, tmp_path, no_grace
):
    process = start_script(KILLED_PUBLISH, tmp_path, repository, model_root)
    assert process.wait(timeout=120) == -signal.SIGKILL
    uid = audmodel.uid("torch", {}, "1.0.0")
    assert not audmodel.exists(uid)
    report = audmodel.check(repository)
    assert problems(report) == [
        ("archive without header", uid),
        ("claim of a dead publisher", uid),
        ("file without header", uid),
    ]
    audmodel.check(repository, repair=True)
    assert backend_files(repository) == []
    assert publish(model_root, params={}) == uid


@pytest.mark.parametrize("backend_name", ["artifactory", "s3-s3rver"])
def test_a_claim_taken_by_ticket_is_the_ticket_alone(repository, model_root):
    """Without conditional writes, the winning ticket is the claim."""
    from audmodel import _store
    from audmodel import _transaction
    from audmodel import errors

    uid = audmodel.uid("torch", {}, "1.0.0")
    with _store.opened(repository) as location:
        with _transaction.claimed(location, _ids.split_uid(uid)):
            (ticket,) = backend_files(repository)
            assert ticket.endswith(".ticket") and ".publishing" in ticket
            assert audmodel.check(repository).empty  # a live claim
            with pytest.raises(errors.BusyError, match=r"remove '.*\.ticket'"):
                publish(model_root, params={})
    assert backend_files(repository) == []
    # The ticket of a holder that died is a claim of a dead publisher.
    text = f"owner: someone\nhost: {socket.gethostname()}\npid: {_dead_pid()}\n"
    write_stored(repository, ticket, text.encode())
    report = audmodel.check(repository)
    assert list(report["problem"]) == ["claim of a dead publisher"]
    assert publish(model_root, params={}) == uid  # taken over
    assert audmodel.check(repository).empty
