"""A repository written by someone hostile: what its readers are kept from.

Each test plants what a writer to the repository (a colleague, a leaked
bucket key, a compromised CI job) could plant, and shows that loading,
listing, removing and checking neither leave the cache root or the
repository, nor hang, nor exhaust memory, nor raise a raw exception.
"""

from __future__ import annotations

import io
import os
import pathlib
import stat
import struct
import threading
import warnings
import zipfile

from helpers import backend_files
from helpers import files_below
from helpers import make_file_system_repository
from helpers import publish
from helpers import raw_client
from helpers import read_stored
from helpers import stored_path
from helpers import write_stored
from hostile_files import declaring_entries
from hostile_files import deep_archive
from hostile_files import laughs
from hostile_files import overlapping_archive
from hostile_files import write_sparse_archive
import pytest

import audmodel
from audmodel import _archive
from audmodel import _cache
from audmodel import _ids
from audmodel import _yaml


ALIAS_FILE = "/_alias/production/1.0.0/production-1.0.0.alias.yaml"
# Stores that keep '..' in a key as it is; s3rver, which keeps objects as
# files, folds '_uid/../x' into 'x', so the finding does not apply there.
KEYS_WITH_DOTS = ["minio", "s3"]


def header_file(uid: str) -> str:
    short_id, version = uid.split("-", 1)
    return f"/_uid/{short_id}/{version}/{short_id}-{version}.header.yaml"


def finishes(function, seconds: float = 60) -> object:
    """Call ``function`` in a thread; fail instead of hanging the suite."""
    result: dict[str, object] = {}

    def run():
        try:
            result["value"] = function()
        except BaseException as ex:
            result["error"] = ex

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    return result.get("value")


# --- paths built from repository contents -------------------------------------


def test_alias_naming_a_path_outside_the_cache_is_refused(
    repository, model_root, cache, tmp_path
):
    publish(model_root, alias="production")
    write_stored(repository, ALIAS_FILE, b"uid: ../project-evilpkg\n")
    if repository.backend == "file-system":
        # What the old reading mapped that ID to, still inside the repository:
        # the header and an archive holding a Python package.
        folder = pathlib.Path(repository.host, repository.name)
        planted = folder / "project" / "evilpkg"
        planted.mkdir(parents=True)
        (planted / "project-evilpkg.header.yaml").write_text(
            "name: torch\nsubgroup: ''\nversion: evilpkg\n"
        )
        with zipfile.ZipFile(planted / "project-evilpkg.zip", "w") as archive:
            archive.writestr("__init__.py", "print('owned')\n")
    with pytest.raises(RuntimeError) as error:
        audmodel.load("production")
    message = str(error.value)
    assert "'../project-evilpkg' is not a model ID" in message
    assert ALIAS_FILE in message and str(repository) in message
    with pytest.raises(
        RuntimeError, match=r"Failed to parse alias file: .\.\./project"
    ):
        audmodel.resolve_alias("production")
    assert not (tmp_path / "project").exists()
    assert not (tmp_path / "evilpkg").exists()
    report = audmodel.check(repository)
    finding = report[report["uid"] == "production"]
    assert list(finding["problem"]) == ["alias unreadable"]
    assert "is not a model ID" in finding["detail"].iloc[0]


@pytest.mark.parametrize("backend_name", KEYS_WITH_DOTS)
def test_listed_key_with_dots_is_no_model(repository, model_root, cache, tmp_path):
    uid = publish(model_root)
    header = read_stored(repository, header_file(uid))
    # S3 keys keep '..': a listing then names a model '..-1.0.0'.
    raw_client(repository.host).put_object(
        Bucket=repository.name, Key="_uid/../1.0.0/..-1.0.0.header.yaml", Body=header
    )
    assert list(audmodel.available().index) == [uid]
    assert list(audmodel.lookup_table("torch").index) == [uid]
    report = audmodel.check(repository)
    assert list(report["problem"]) == ["unsafe name"]
    assert report["path"].iloc[0] == "/_uid/../1.0.0/..-1.0.0.header.yaml"
    # The catalog knows no such model, and writes nothing beside the cache.
    from audmodel import _ui

    catalog = _ui.Catalog([repository], cache)
    with pytest.raises(KeyError):
        _ui.model_page(catalog, catalog.snapshot(), "..-1.0.0")
    assert list(tmp_path.glob("*.yaml")) == []  # nothing beside the cache


def test_header_naming_another_repository_changes_nothing_there(
    request, tmp_path, model_root, monkeypatch, cache
):
    # Two file-system repositories on one host, the same model in both.
    dev = make_file_system_repository(request, tmp_path, "dev")
    prod = audmodel.Repository("prod", dev.host, "file-system")
    os.mkdir(os.path.join(prod.host, "prod"))
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [dev])
    uid = publish(model_root)
    audmodel.copy(uid, prod)
    prod_archive = os.path.join(prod.host, "prod", "torch", *uid.split("-", 1))
    before = files_below(prod_archive)
    write_stored(
        dev,
        header_file(uid),
        b"author: tester\nname: ../prod/torch\nsubgroup: ''\nversion: 1.0.0\n",
    )
    for function in (audmodel.load, audmodel.url, audmodel.files):
        with pytest.raises(RuntimeError) as error:
            function(uid)
        assert "'../prod/torch' is not a valid model name" in str(error.value)
        assert str(dev) in str(error.value)
    os.mkdir(os.path.join(dev.host, "other"))
    with pytest.raises(RuntimeError, match="is not a valid model name"):
        audmodel.copy(uid, audmodel.Repository("other", dev.host, "file-system"))
    assert os.listdir(os.path.join(dev.host, "other")) == []
    audmodel.remove(uid)
    assert files_below(prod_archive) == before
    report = audmodel.check(prod)
    assert report.empty
    # dev keeps the archive its header no longer names, for check to report.
    assert [p for p in backend_files(dev) if p.endswith(".zip")]
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [prod])
    assert sorted(os.listdir(audmodel.load(uid))) == sorted(os.listdir(model_root))


def test_header_with_unsafe_name_is_reported_on_every_backend(
    repository, model_root, cache
):
    uid = publish(model_root)
    write_stored(repository, header_file(uid), b"name: ../x\nsubgroup: a..b\n")
    with pytest.raises(RuntimeError, match=r"Refusing the header .*is not a valid"):
        audmodel.header(uid)
    with pytest.warns(UserWarning, match="is left out: .*not a valid model name"):
        assert audmodel.available().empty
    report = audmodel.check(repository)
    row = report[report["uid"] == uid]
    assert "header unreadable" in list(row["problem"])
    # The cache got nothing from it.
    assert not os.path.exists(os.path.join(cache, uid.split("-")[0], "1.0.0"))


def test_cached_header_with_unsafe_name_is_refused(repository, model_root, cache):
    uid = publish(model_root)
    audmodel.header(uid)
    short_id, version = uid.split("-", 1)
    cached = pathlib.Path(cache, short_id, f"{version}.header.yaml")
    cached.write_text("name: ../../elsewhere\nsubgroup: ''\n")
    with pytest.raises(RuntimeError, match="Refusing the cached header"):
        audmodel.load(uid)
    assert not (pathlib.Path(cache).parent / "elsewhere").exists()


def test_fifo_in_a_shared_cache_blocks_nobody(repository, model_root, cache):
    uid = publish(model_root)
    short_id, version = uid.split("-", 1)
    os.makedirs(os.path.join(cache, short_id))
    os.mkfifo(os.path.join(cache, short_id, f"{version}.header.yaml"))
    with pytest.raises(RuntimeError, match="it is not a regular file"):
        finishes(lambda: audmodel.header(uid))
    # A cached meta is replaced by the repository's.
    os.mkfifo(os.path.join(cache, short_id, f"{version}.meta.yaml"))
    assert finishes(lambda: audmodel.meta(uid)) == {}


def test_header_index_of_a_shared_cache_is_checked(repository, model_root, cache):
    uid = publish(model_root)
    audmodel.available()
    index = pathlib.Path(cache, uid.split("-")[0], ".headers.json")
    text = index.read_text()
    assert '"name":"torch"' in text
    index.write_text(text.replace('"name":"torch"', '"name":"../../elsewhere"'))
    # The planted entry is dropped and the header read again.
    table = audmodel.available()
    assert list(table.index) == [uid]
    assert list(table["name"]) == ["torch"]


# --- denial of service from small inputs ---------------------------------------


def test_billion_laughs_header_is_refused(repository, model_root, cache):
    uid = publish(model_root)
    text = laughs()
    assert len(text) < 700
    write_stored(repository, header_file(uid), text.encode())
    with pytest.warns(UserWarning, match="left out: .*values with its anchors"):
        table = finishes(audmodel.available)
    assert table.empty
    index = pathlib.Path(cache, uid.split("-")[0], ".headers.json")
    assert not index.exists() or index.stat().st_size < 10_000
    with pytest.raises(RuntimeError, match="more than 262144 values"):
        finishes(lambda: audmodel.header(uid))
    report = finishes(lambda: audmodel.check(repository))
    assert "header unreadable" in list(report["problem"])


def test_deeply_nested_header_is_left_out(repository, model_root, cache):
    uid = publish(model_root, name="deep")
    other = publish(model_root, name="fine")
    nested = "[" * 990 + "]" * 990
    write_stored(repository, header_file(uid), f"name: deep\nx: {nested}\n".encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(audmodel.available().index) == [other]
        assert list(audmodel.lookup_table("fine").index) == [other]
    with pytest.raises(RuntimeError, match=r"Refusing to read|not valid YAML"):
        audmodel.header(uid)


def test_catalog_filter_value_is_a_plain_scalar_only(tmp_path):
    from audmodel import _ui

    bomb = laughs().replace("\n", " ")
    given = [f"x={bomb}", "rate=16000", "y=[1, 2]"]
    params, errors = finishes(lambda: _ui._params(given))
    assert params == {"x": bomb, "rate": 16000, "y": "[1, 2]"}
    assert len(errors) == 2  # the user is told that x and y are read as text
    assert _yaml.scalar("&a [*a]") == "&a [*a]"
    assert _yaml.scalar("1" * 300) == "1" * 300


def test_overlapping_archive_entries_are_refused(repository, model_root, cache):
    uid = publish(model_root)
    bomb = overlapping_archive(40, os.urandom(20_000))
    # Unchecked, it would unpack to about 40 times its size.
    sizes = [e.file_size for e in zipfile.ZipFile(io.BytesIO(bomb)).infolist()]
    assert sum(sizes) > 30 * len(bomb)
    write_stored(repository, stored_path(uid), bomb)
    with pytest.raises(RuntimeError, match="overlaps the next entry"):
        audmodel.load(uid)
    assert not os.path.exists(os.path.join(cache, *uid.split("-", 1)))


def test_declared_entry_count_is_checked_before_the_directory(tmp_path):
    data = declaring_entries(3_000_000)
    reads = []

    def read_range(start, end):
        reads.append((start, end))
        return data[start:end]

    with pytest.raises(_archive.ArchiveError, match="archive of 3000000 entries"):
        _archive.read_entries(lambda n: (data[-n:], len(data)), read_range)
    assert reads == []  # the directory was never asked for
    path = tmp_path / "bomb.zip"
    path.write_bytes(data)
    with pytest.raises(_archive.ArchiveError, match="archive of 3000000 entries"):
        _archive.extract(str(path), str(tmp_path / "out"))


def test_shifted_directory_is_a_broken_archive(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.yaml", "layers: 10\n")
    data = bytearray(buffer.getvalue())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, end + 1000)  # the directory's offset
    path = tmp_path / "shifted.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(_archive.ArchiveError, match="broken"):
        _archive.extract(str(path), str(tmp_path / "out"))
    with pytest.raises(_archive.ArchiveError, match="broken"):
        _archive.verify(str(path))
    with pytest.raises(_archive.ArchiveError):
        _archive.read_entries(
            lambda n: (bytes(data[-n:]), len(data)), lambda s, e: bytes(data[s:e])
        )


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_fifo_in_a_file_system_repository_blocks_nobody(repository, model_root, cache):
    uid = publish(model_root)
    other = publish(model_root, name="other")
    folder = pathlib.Path(repository.host, repository.name)
    header = folder / header_file(other).lstrip("/")
    header.unlink()
    os.mkfifo(header)
    with pytest.warns(UserWarning, match="is not a regular file"):
        assert list(finishes(audmodel.available).index) == [uid]
    report = finishes(lambda: audmodel.check(repository))
    assert list(report[report["uid"] == other]["problem"]) == ["header unreadable"]
    archive = folder / stored_path(uid).lstrip("/")
    archive.unlink()
    os.mkfifo(archive)
    with pytest.raises(Exception, match="is not a regular file"):
        finishes(lambda: audmodel.load(uid))
    assert not os.path.exists(os.path.join(cache, *uid.split("-", 1)))


def test_oversized_header_is_refused_before_it_is_read(repository, model_root, cache):
    uid = publish(model_root)
    filler = b"# " + b"x" * 1024 + b"\n"
    write_stored(repository, header_file(uid), b"name: torch\n" + filler * 2048)
    with pytest.raises(RuntimeError, match=r"has \d+ bytes, more than the 1048576"):
        audmodel.header(uid)
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, f"{version}.header.yaml"))


# --- bytes that change behind a model -------------------------------------------


@pytest.mark.parametrize("backend_name", ["file-system"])
def test_copy_between_file_systems_shares_no_bytes(
    make_repository, model_root, monkeypatch, cache, tmp_path
):
    dev, prod = make_repository("dev"), make_repository("prod")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [dev])
    uid = publish(model_root)
    audmodel.copy(uid, prod)
    path = stored_path(uid)
    dev_file = pathlib.Path(dev.host, dev.name, path.lstrip("/"))
    prod_file = pathlib.Path(prod.host, prod.name, path.lstrip("/"))
    assert not os.path.samefile(dev_file, prod_file)
    original = prod_file.read_bytes()
    with open(dev_file, "r+b") as fp:  # rewritten in place, as an editor may
        fp.write(b"\0" * 64)
    assert prod_file.read_bytes() == original
    assert audmodel.check(prod).empty


def test_linked_model_folder_in_the_cache_is_refused(
    repository, model_root, cache, tmp_path
):
    uid = publish(model_root)
    short_id = uid.split("-", 1)[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.makedirs(cache)
    os.symlink(elsewhere, os.path.join(cache, short_id))
    for function in (audmodel.load, audmodel.header, audmodel.meta):
        with pytest.raises(RuntimeError, match="is a symbolic link"):
            function(uid)
    assert os.listdir(elsewhere) == []


def test_staging_folders_and_locks_follow_the_caches_group_setting(tmp_path):
    umask = os.umask(0o002)  # as on machines where groups share files
    try:
        private = tmp_path / "private" / "3e120e8d"
        private.mkdir(parents=True)
        private.chmod(0o755)
        shared = tmp_path / "shared" / "3e120e8d"
        shared.mkdir(parents=True)
        shared.chmod(0o2775)
        for folder, group_writes in [(private, False), (shared, True)]:
            # Nobody else writes into a staging folder, so nobody can plant
            # a link in it while it fills; its locks are the group's.
            with _cache.staging(str(folder / "1.0.0")) as (staging, _):
                mode = os.stat(staging).st_mode
                assert not mode & (stat.S_IWGRP | stat.S_IWOTH)
            with _cache.lock(str(folder / "1.0.0")):
                lock = os.stat(folder / ".1.0.0.lock").st_mode & 0o777
            assert lock == (0o664 if group_writes else 0o644)
    finally:
        os.umask(umask)


def test_cache_paths_are_built_from_ids_only(tmp_path):
    for short_id, version in [("..", "1.0.0"), ("3e120e8d", ".."), ("a/b", "1")]:
        with pytest.raises(ValueError, match="is not a model ID"):
            _cache.model_dir(str(tmp_path), _ids.ModelId(short_id, version))


def test_publish_refuses_links_outside_and_special_files(
    repository, model_root, tmp_path
):
    secret = tmp_path / "secret.txt"
    secret.write_text("AWS_SECRET_ACCESS_KEY=...")
    root = pathlib.Path(model_root)
    os.symlink(secret, root / "environ")
    os.mkfifo(root / "pipe")
    with pytest.raises(ValueError) as error:
        publish(model_root)
    message = str(error.value)
    assert f"environ' is a link to '{secret}', outside the model folder" in message
    assert "pipe' is not a regular file" in message
    assert backend_files(repository) == []
    # Links inside the folder keep working.
    (root / "environ").unlink()
    (root / "pipe").unlink()
    os.symlink(root / "model.yaml", root / "same.yaml")
    uid = publish(model_root)
    loaded = pathlib.Path(audmodel.load(uid))
    assert (loaded / "same.yaml").read_text() == "layers: 10\n"


# --- low ----------------------------------------------------------------------


def test_credentials_in_a_host_are_not_shown():
    repository = audmodel.Repository("models", "http://key:hunter2@127.0.0.1:1", "s3")
    assert "hunter2" not in repr(repository)
    assert repository != audmodel.Repository("models", "http://127.0.0.1:1", "s3")
    with pytest.raises(Exception) as error:
        audmodel.config.REPOSITORIES = [repository]
        try:
            audmodel.header("3e120e8d-1.0.0")
        finally:
            audmodel.config.REPOSITORIES = []
    assert "hunter2" not in str(error.value)
    for backend in ("artifactory", "s3"):  # minio refuses such a host
        repository = audmodel.Repository("m", "http://k:hunter2@127.0.0.1:1", backend)
        interface = repository.create_backend_interface()
        assert "hunter2" not in repr(interface.backend)


def test_urls_show_no_credentials(artifactory_server, model_root, monkeypatch):
    host = artifactory_server.url.replace("://", "://tester:test-api-key@", 1)
    artifactory_server.create_repository("creds")
    repository = audmodel.Repository("creds", host, "artifactory")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uid = publish(model_root)
    url = audmodel.url(uid)
    assert url.startswith(artifactory_server.url) and "test-api-key" not in url


@pytest.mark.parametrize("name", ["_uid", "_alias"])
def test_reserved_names_are_refused(repository, model_root, name):
    with pytest.raises(ValueError, match="reserved for the repository"):
        publish(model_root, name=name)
    assert backend_files(repository) == []


@pytest.mark.parametrize("host", ["http://[::1", "http://127.0.0.1:99999"])
def test_bad_host_url_is_refused_when_the_repository_is_made(host):
    with pytest.raises(ValueError, match="The host is not a valid URL"):
        audmodel.Repository("models", host, "s3")
    with pytest.raises(ValueError, match="The host is not a valid URL"):
        audmodel.backend.S3(host, "models")


# A sparse file is planted where the archive lies on disk; on other stores
# the same directory check runs on ranged reads (the next test).
@pytest.mark.parametrize("backend_name", ["file-system"])
def test_a_sparse_archive_declaring_a_huge_entry_is_refused_unread(
    repository, model_root, cache
):
    uid = publish(model_root)
    path = os.path.join(repository.host, repository.name, *stored_path(uid).split("/"))
    write_sparse_archive(path, 1_500_000_000)
    with pytest.raises(RuntimeError, match="more than deflate ever needs"):
        audmodel.load(uid)
    with pytest.raises(RuntimeError, match="more than deflate ever needs"):
        audmodel.files(uid)
    assert not os.path.exists(os.path.join(cache, *uid.split("-", 1)))


def test_a_declared_compressed_size_is_checked_before_reading(tmp_path):
    path = tmp_path / "sparse.zip"
    write_sparse_archive(str(path), 1_500_000_000)
    reads = []

    def read_range(start, end):
        reads.append(end - start)
        with open(path, "rb") as fp:
            fp.seek(start)
            return fp.read(end - start)

    size = path.stat().st_size
    with pytest.raises(_archive.ArchiveError, match="declares 1500000000 compressed"):
        _archive.read_entries(lambda n: (read_range(size - n, size), size), read_range)
    assert sum(reads) < 1024 * 1024


def test_an_entry_deeper_than_64_levels_is_refused_by_name(repository, model_root):
    uid = publish(model_root)
    write_stored(repository, stored_path(uid), deep_archive(1500))
    with pytest.raises(RuntimeError, match="1501 levels deep, more than 64"):
        audmodel.load(uid)
    write_stored(repository, stored_path(uid), deep_archive(63))
    assert audmodel.files(uid).index[0].count("/") == 63
