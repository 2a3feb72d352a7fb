"""The Artifactory backend against the emulator of Artifactory's REST API."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import time

import audbackend
from helpers import ARTIFACTORY_KEY
from helpers import backend_files
from helpers import files_below
from helpers import publish
import pytest
import requests

import audmodel
from audmodel.backend import Artifactory
from audmodel.backend import _artifactory


@pytest.fixture
def repository(artifactory_server, monkeypatch, request) -> audmodel.Repository:
    name = f"models-{abs(hash(request.node.nodeid)) % 10**10}-{time.monotonic_ns()}"
    artifactory_server.create_repository(name)
    repo = audmodel.Repository(name, artifactory_server.url, "artifactory")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repo])
    return repo


@pytest.fixture
def anonymous_reads(artifactory_server):
    artifactory_server.anonymous = "read"
    yield
    artifactory_server.anonymous = None


def test_files_lie_at_host_repository_path(artifactory_server, repository, model_root):
    uid = publish(model_root, subgroup="emotion.cnn", meta={"a": 1})
    short_id = uid.split("-")[0]
    stored = artifactory_server.repositories[repository.name]
    assert sorted(stored) == [
        f"_uid/{short_id}/1.0.0/{uid}.header.yaml",
        f"_uid/{short_id}/1.0.0/{uid}.meta.yaml",
        f"emotion/cnn/torch/{short_id}/1.0.0/{uid}.zip",
    ]
    url = f"{repository.host}/{repository.name}/emotion/cnn/torch/{short_id}/1.0.0"
    assert audmodel.url(uid) == f"{url}/{uid}.zip"
    response = requests.get(audmodel.url(uid), auth=("tester", ARTIFACTORY_KEY))
    assert response.status_code == 200
    assert (
        response.content == stored[f"emotion/cnn/torch/{short_id}/1.0.0/{uid}.zip"].data
    )


def test_checksums_are_sent_and_read_back(artifactory_server, repository, model_root):
    uid = publish(model_root)
    with Artifactory(repository.host, repository.name) as backend:
        for path in backend.ls("/"):
            data = artifactory_server.repositories[repository.name][path[1:]].data
            assert backend.checksum(path) == hashlib.md5(data).hexdigest()
            assert backend.owner(path) == "tester"
    assert audmodel.exists(uid)


def test_upload_with_wrong_checksum_is_refused_and_removed(
    repository, model_root, monkeypatch
):
    monkeypatch.setattr(
        _artifactory, "_sha1_and_sha256", lambda path: ("0" * 40, "0" * 64)
    )
    with pytest.raises(RuntimeError, match=r"Could not publish.*Checksum error"):
        publish(model_root)
    assert backend_files(repository) == []


def test_corrupted_download_is_refused(
    artifactory_server, repository, model_root, cache
):
    uid = publish(model_root)
    # The first byte of the archive flipped, in its local header: the
    # archive is unpacked from parts, each checked as it is read.
    artifactory_server.corrupt_downloads = 3
    with pytest.raises(RuntimeError, match=f"Cannot load model '{uid}'.*local header"):
        audmodel.load(uid)
    artifactory_server.corrupt_downloads = 0
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, version))
    assert files_below(audmodel.load(uid)) == files_below(model_root)


# --- authentication ---------------------------------------------------------------


def without_variables(monkeypatch) -> None:
    monkeypatch.delenv("ARTIFACTORY_USERNAME")
    monkeypatch.delenv("ARTIFACTORY_API_KEY")


def test_credentials_from_environment(artifactory_server):
    backend = Artifactory(artifactory_server.url, "x")
    assert backend.authentication == ("tester", ARTIFACTORY_KEY)


def test_credentials_from_dohq_config_file(
    artifactory_server, repository, model_root, monkeypatch, tmp_path
):
    uid = publish(model_root)
    without_variables(monkeypatch)
    config = tmp_path / "artifactory.cfg"
    config.write_text(
        f"[{artifactory_server.url}]\nusername = reader\npassword = r-key\n"
    )
    monkeypatch.setenv("DOHQ_ARTIFACTORY_PYTHON_CFG", str(config))
    assert Artifactory(artifactory_server.url, "x").authentication == (
        "reader",
        "r-key",
    )
    audmodel.config.CACHE_ROOT += "-reader"
    assert files_below(audmodel.load(uid)) == files_below(model_root)
    # A reader may read, but not publish.
    with pytest.raises(RuntimeError, match="denied access"):
        publish(model_root, "2.0.0")
    assert not audmodel.exists(uid.replace("1.0.0", "2.0.0"))


def test_anonymous_access(
    artifactory_server, repository, model_root, monkeypatch, anonymous_reads
):
    uid = publish(model_root)
    without_variables(monkeypatch)
    backend = Artifactory(artifactory_server.url, repository.name)
    assert backend.authentication is None
    audmodel.config.CACHE_ROOT += "-anonymous"
    assert files_below(audmodel.load(uid)) == files_below(model_root)


def test_anonymous_access_refused_when_server_requires_login(
    artifactory_server, repository, monkeypatch
):
    without_variables(monkeypatch)
    with pytest.raises(audbackend.BackendError, match="refused the credentials"):
        audmodel.exists("00000000-1.0.0")


def test_wrong_credentials_are_named_and_not_shown(
    artifactory_server, repository, monkeypatch
):
    monkeypatch.setenv("ARTIFACTORY_API_KEY", "wrong-secret-key")
    with pytest.raises(audbackend.BackendError) as error:
        audmodel.exists("00000000-1.0.0")
    message = str(error.value)
    assert "refused the credentials" in message
    assert repository.name in message and repository.host in message
    assert "wrong-secret-key" not in message + repr(error.value.exception)
    assert "wrong-secret-key" not in repr(Artifactory(repository.host, repository.name))


# --- faults -----------------------------------------------------------------------


def test_missing_repository_is_named(artifactory_server):
    with pytest.raises(audbackend.BackendError, match="has no repository 'nothing'"):
        Artifactory(artifactory_server.url, "nothing").open()


def test_unreachable_server_fails_fast(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = f"http://127.0.0.1:{port}/artifactory"
    repository = audmodel.Repository("models", host, "artifactory")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    start = time.monotonic()
    with pytest.raises(audbackend.BackendError, match="Cannot reach Artifactory"):
        audmodel.exists("00000000-1.0.0")
    assert time.monotonic() - start < 30


def test_server_errors_are_retried(artifactory_server, repository, model_root):
    artifactory_server.fail_next(503, times=2)
    uid = publish(model_root)
    assert audmodel.exists(uid)


def test_an_upload_answered_503_is_sent_again_whole(
    artifactory_server, repository, model_root
):
    artifactory_server.fail_next(503, times=2, method="PUT")
    start = time.monotonic()
    uid = publish(model_root)
    assert time.monotonic() - start < 30  # not waiting for a body never sent
    assert files_below(audmodel.load(uid)) == files_below(model_root)


# --- backend operations -------------------------------------------------------------


def test_create_and_delete_repository(artifactory_server):
    name = f"created-{time.monotonic_ns()}"
    Artifactory.create(artifactory_server.url, name)
    assert name in artifactory_server.repositories
    with pytest.raises(audbackend.BackendError):
        Artifactory.create(artifactory_server.url, name)
    Artifactory.delete(artifactory_server.url, name)
    assert name not in artifactory_server.repositories


def test_backend_file_operations(artifactory_server, repository, tmp_path):
    local = tmp_path / "file.txt"
    local.write_text("content")
    with Artifactory(repository.host, repository.name) as backend:
        backend.put_file(str(local), "/sub/file.txt")
        assert backend.exists("/sub/file.txt")
        assert not backend.exists("/sub")  # a folder is not a file
        assert backend.checksum("/sub/file.txt") == hashlib.md5(b"content").hexdigest()
        assert backend.owner("/sub/file.txt") == "tester"
        assert backend.date("/sub/file.txt") == time.strftime("%Y-%m-%d", time.gmtime())
        assert backend.ls("/") == ["/sub/file.txt"]
        assert backend.ls("/sub/") == ["/sub/file.txt"]
        assert backend.ls_dirs("/") == ["sub"]
        backend.copy_file("/sub/file.txt", "/copy.txt")
        backend.move_file("/copy.txt", "/moved.txt")
        assert backend.ls("/") == ["/moved.txt", "/sub/file.txt"]
        assert backend.get_file("/moved.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "content"
        assert b"".join(backend._get_file_stream("/moved.txt")) == b"content"
        backend.remove_file("/moved.txt")
        with pytest.raises(audbackend.BackendError):
            backend.remove_file("/moved.txt")
        with pytest.raises(audbackend.BackendError):
            backend.ls_dirs("/missing/")
    assert getpass.getuser()  # the uploader is the Artifactory user, not the OS user


# --- the emulator answers as Artifactory --------------------------------------


def test_emulator_answers_like_artifactory(artifactory_server, repository):
    auth = ("tester", ARTIFACTORY_KEY)
    base = artifactory_server.url
    missing = requests.get(f"{base}/api/storage/{repository.name}/nothing", auth=auth)
    assert missing.status_code == 404
    assert missing.json() == {
        "errors": [{"status": 404, "message": "Unable to find item"}]
    }
    assert requests.get(f"{base}/api/storage/{repository.name}").status_code == 401
    bad = requests.get(f"{base}/api/storage/{repository.name}", auth=("tester", "x"))
    assert (
        bad.status_code == 401
        and bad.json()["errors"][0]["message"] == "Bad credentials"
    )
    deployed = requests.put(
        f"{base}/{repository.name}/a/b.txt",
        data=b"hello",
        auth=auth,
        headers={"X-Checksum-Md5": hashlib.md5(b"hello").hexdigest()},
    )
    assert deployed.status_code == 201
    info = deployed.json()
    assert info["path"] == "/a/b.txt" and info["size"] == "5"
    assert info["checksums"]["sha1"] == hashlib.sha1(b"hello").hexdigest()
    folder = requests.get(f"{base}/api/storage/{repository.name}/a", auth=auth).json()
    assert folder["children"] == [{"uri": "/b.txt", "folder": False}]
    conflict = requests.put(
        f"{base}/{repository.name}/a/c.txt",
        data=b"x",
        auth=auth,
        headers={"X-Checksum-Sha1": "0" * 40},
    )
    assert conflict.status_code == 409
    by_checksum = requests.put(
        f"{base}/{repository.name}/a/d.txt",
        auth=auth,
        headers={
            "X-Checksum-Deploy": "true",
            "X-Checksum-Sha1": hashlib.sha1(b"hello").hexdigest(),
        },
    )
    assert by_checksum.status_code == 201
    assert requests.delete(f"{base}/{repository.name}/a", auth=auth).status_code == 204
    assert (
        requests.get(f"{base}/{repository.name}/a/b.txt", auth=auth).status_code == 404
    )
