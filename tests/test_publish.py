"""Publishing all or nothing: faults injected into the backend's uploads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import audbackend
import audeer
from helpers import backend_class
from helpers import backend_files
from helpers import publish
from helpers import read_stored
from helpers import start_script
from helpers import write_stored
import pytest

import audmodel


@pytest.fixture
def fail_upload(repository, monkeypatch):
    """Make the upload of files whose path contains a marker raise."""
    cls = backend_class(repository)

    def install(marker: str, exception: BaseException) -> None:
        original = cls._put_file

        def put_file(self, src_path, dst_path, checksum, verbose):
            if marker in dst_path:
                raise exception
            return original(self, src_path, dst_path, checksum, verbose)

        monkeypatch.setattr(cls, "_put_file", put_file)

    return install


# audbackend's MinIO backend computes the MD5 of what it uploads itself.
@pytest.mark.parametrize(
    "backend_name", ["artifactory", "file-system", "s3", "s3-s3rver"]
)
def test_archive_is_not_read_again_for_its_md5(repository, model_root, monkeypatch):
    """The MD5 computed while the archive is written goes with its upload."""
    md5 = audeer.md5

    def refuse_archives(path, *args, **kwargs):
        assert not str(path).endswith(".zip"), f"read again: {path}"
        return md5(path, *args, **kwargs)

    monkeypatch.setattr(audeer, "md5", refuse_archives)
    uid = publish(model_root)
    assert audmodel.exists(uid)
    assert sorted(os.listdir(audmodel.load(uid))) == sorted(os.listdir(model_root))


def test_archive_is_written_out_early_only_where_the_repository_keeps_it(
    repository, model_root, tmp_path, monkeypatch
):
    """A file-system repository links an archive from its own disk into place.

    Writing that archive out to disk while it is written shortens the fsync
    of a durable publication; for other backends the archive is a temporary
    file, and writing it out would be wasted.
    """
    asked = []
    create = audmodel._archive.create

    def recorded(*args, write_behind=False, **kwargs):
        asked.append(write_behind)
        return create(*args, write_behind=write_behind, **kwargs)

    monkeypatch.setattr(audmodel._archive, "create", recorded)
    uid = publish(model_root, tmp_root=str(tmp_path))
    assert asked == [repository.backend == "file-system"]
    assert audmodel.load(uid)


@pytest.mark.parametrize(
    "marker", [".zip", ".meta.yaml", ".aliases", ".alias.yaml", ".header.yaml"]
)
def test_failed_upload_removes_everything(repository, model_root, fail_upload, marker):
    fail_upload(marker, OSError("disk full"))
    with pytest.raises(RuntimeError, match=r"Could not publish model '.*disk full"):
        publish(model_root, alias="best")
    assert backend_files(repository) == []
    assert not audmodel.exists("best")


@pytest.mark.parametrize("marker", [".zip", ".meta.yaml", ".header.yaml"])
def test_ctrl_c_during_upload_removes_everything(
    repository, model_root, fail_upload, marker
):
    fail_upload(marker, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        publish(model_root)
    assert backend_files(repository) == []


def test_failed_publication_restores_taken_alias(repository, model_root, fail_upload):
    first = publish(model_root, "1.0.0", alias="best")
    before = backend_files(repository)
    fail_upload("2.0.0.header.yaml", OSError("connection lost"))
    with pytest.raises(RuntimeError, match="Could not publish"):
        publish(model_root, "2.0.0", alias="best")
    assert backend_files(repository) == before
    assert audmodel.resolve_alias("best") == first
    assert audmodel.aliases(first) == ["best"]


def test_failed_set_alias_restores_alias(repository, model_root, fail_upload):
    first = publish(model_root, "1.0.0", alias="best")
    second = publish(model_root, "2.0.0")
    fail_upload(".alias.yaml", OSError("connection lost"))
    with pytest.raises(audbackend.BackendError):
        audmodel.set_alias("best", second)
    assert audmodel.resolve_alias("best") == first
    assert audmodel.aliases(first) == ["best"]
    assert audmodel.aliases(second) == []


def test_publication_by_another_process_meanwhile_is_detected(
    repository, model_root, monkeypatch, tmp_path
):
    """Another process registers the same model while ours uploads."""
    cls = backend_class(repository)
    original = cls._put_file
    other_header = tmp_path / "other-header.yaml"
    other_header.write_bytes(b"author: other\n")

    def put_file(self, src_path, dst_path, checksum, verbose):
        original(self, src_path, dst_path, checksum, verbose)
        if dst_path.endswith(".meta.yaml"):
            header = dst_path.replace(".meta.yaml", ".header.yaml")
            original(self, str(other_header), header, "", verbose)

    monkeypatch.setattr(cls, "_put_file", put_file)
    with pytest.raises(
        RuntimeError,
        match=r"^A model with ID '[0-9a-f]{8}-1\.0\.0' was published by another "
        r"process in the meantime\. ",
    ):
        publish(model_root)
    monkeypatch.setattr(cls, "_put_file", original)
    # The other publication's header stays, and with it the model.
    files = backend_files(repository)
    headers = [f for f in files if f.endswith(".header.yaml")]
    assert len(headers) == 1
    assert read_stored(repository, headers[0]) == other_header.read_bytes()
    assert any(f.endswith(".zip") for f in files)


SLOW_PUBLISH = textwrap.dedent(
    """
    import sys, time
    import audbackend, audmodel

    repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
    cls = audmodel.Repository.backend_registry[repository.backend]
    original = cls._put_file

    def slow_put_file(self, src_path, dst_path, checksum, verbose):
        original(self, src_path, dst_path, checksum, verbose)
        if dst_path.endswith(".zip"):
            print("archive uploaded", flush=True)
            time.sleep(60)

    cls._put_file = slow_put_file
    audmodel.config.REPOSITORIES = [repository]
    try:
        audmodel.publish(sys.argv[4], "torch", {}, "1.0.0")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    """
)


def test_sigterm_during_upload_removes_everything(repository, model_root, tmp_path):
    process = start_script(
        SLOW_PUBLISH, tmp_path, repository, model_root, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout.readline().strip() == "archive uploaded"
        assert any(f.endswith(".zip") for f in backend_files(repository))
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert out.strip() == "interrupted"
    assert process.returncode == 3
    assert backend_files(repository) == []


def test_sigterm_handler_is_restored_after_publish(repository, model_root):
    before = signal.getsignal(signal.SIGTERM)
    publish(model_root)
    assert signal.getsignal(signal.SIGTERM) is before


def test_publish_from_thread_works(repository, model_root):
    """Signal handlers can only be set in the main thread; publish still works."""
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(publish(model_root)))
    thread.start()
    thread.join(timeout=60)
    assert result and audmodel.exists(result[0])


def test_concurrent_publications_of_one_uid(repository, model_root, tmp_path):
    """Processes publishing the same UID at once: none leaves a broken model."""
    source = textwrap.dedent(
        """
        import sys, audmodel
        repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
        audmodel.config.REPOSITORIES = [repository]
        try:
            print(audmodel.publish(sys.argv[4], "torch", {}, "1.0.0"))
        except RuntimeError as ex:
            print("refused:", ex)
        """
    )
    processes = [
        start_script(source, tmp_path, repository, model_root, stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    published = [o for o in outputs if not o.startswith("refused:")]
    uid = audmodel.uid("torch", {}, "1.0.0")
    assert published == [uid], outputs  # exactly one goes on
    assert all(
        "exists already" in o or "being published" in o or "in the meantime" in o
        for o in outputs
        if o.startswith("refused:")
    ), outputs
    assert audmodel.exists(uid)
    folder = audmodel.load(uid)
    assert sorted(os.listdir(folder)) == sorted(os.listdir(model_root))
    assert not [f for f in backend_files(repository) if "publishing" in f]


def claim(repository: audmodel.Repository, uid: str, pid: int) -> None:
    short_id, version = uid.split("-", 1)
    text = f"owner: someone\nhost: {socket.gethostname()}\npid: {pid}\n"
    path = f"/_uid/{short_id}.publishing/{version}/{short_id}.publishing-{version}.yaml"
    write_stored(repository, path, text.encode())


def test_claim_of_running_publication_is_respected(repository, model_root):
    uid = audmodel.uid("torch", {}, "1.0.0")
    claim(repository, uid, os.getpid())  # a live process on this machine
    with pytest.raises(
        RuntimeError, match="is being published, copied or removed by another"
    ):
        publish(model_root, params={})
    files = backend_files(repository)
    assert len(files) == 1 and "publishing" in files[0]  # the other's claim stays


def test_claim_left_by_killed_process_is_taken_over(repository, model_root):
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
    )
    uid = audmodel.uid("torch", {}, "1.0.0")
    claim(repository, uid, int(process.stdout))  # that process has ended
    assert publish(model_root, params={}) == uid
    assert not [f for f in backend_files(repository) if "publishing" in f]
