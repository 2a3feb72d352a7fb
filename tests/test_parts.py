"""Some files of a model: one file (load_file), or patterns (load(files=)).

Only what is asked for is read from the repository; it is kept apart from
the model's place in the cache, and a later load of the whole model reads
only what is missing.
"""

from __future__ import annotations

import json
import os
import pathlib

from helpers import BACKENDS
from helpers import COMPAT
from helpers import REMOTE_BACKENDS
from helpers import files_below
from helpers import publish
import pytest

import audmodel
from audmodel.backend._common import RangedReads


MiB = 1024 * 1024
# The backends the large-model tests run on: a file system, S3 on both
# servers, Artifactory (the MinIO backends share the S3 servers).
LARGE_BACKENDS = ["artifactory", "file-system", "s3", "s3-s3rver"]


def count_reads(monkeypatch) -> list[int]:
    """Bytes of every read of a stored file from now on, ends of files too.

    An archive that lies on this machine (a file-system repository) is read
    where it lies: its reads are counted by the process's own I/O counter.
    """
    read: list[int] = []
    read_range = RangedReads.read_range
    read_tail = RangedReads.read_tail
    stream_range = RangedReads.stream_range

    def counted_range(self, *args, **kwargs):
        data = read_range(self, *args, **kwargs)
        read.append(len(data))
        return data

    def counted_tail(self, *args, **kwargs):
        data, size = read_tail(self, *args, **kwargs)
        read.append(len(data))
        return data, size

    def counted_stream(self, *args, **kwargs):
        for piece in stream_range(self, *args, **kwargs):
            read.append(len(piece))
            yield piece

    monkeypatch.setattr(RangedReads, "read_range", counted_range)
    monkeypatch.setattr(RangedReads, "read_tail", counted_tail)
    monkeypatch.setattr(RangedReads, "stream_range", counted_stream)
    return read


def bytes_read_by(call, backend_name: str, monkeypatch) -> tuple[object, int]:
    """What ``call()`` returns, and the bytes it read of stored files."""
    if backend_name == "file-system":
        before = _read_chars()
        result = call()
        return result, _read_chars() - before
    read = count_reads(monkeypatch)
    result = call()
    return result, sum(read)


def _read_chars() -> int:
    with open("/proc/self/io") as fp:
        return next(int(line.split()[1]) for line in fp if line.startswith("rchar"))


@pytest.fixture
def large(tmp_path) -> str:
    """A model of one large file (stored, as weights are) and a small one."""
    root = tmp_path / "large"
    root.mkdir()
    with open(root / "weights.bin", "wb") as fp:
        fp.truncate(256 * MiB)
    (root / "small.onnx").write_bytes(os.urandom(MiB))
    (root / "config.yaml").write_text("layers: 10\n")
    return str(root)


@pytest.fixture
def several(tmp_path) -> str:
    root = tmp_path / "several"
    (root / "onnx").mkdir(parents=True)
    (root / "torch").mkdir()
    (root / "onnx" / "model.onnx").write_bytes(os.urandom(300_000))
    (root / "onnx" / "quantised.onnx").write_bytes(os.urandom(100_000))
    (root / "torch" / "model.pt").write_bytes(os.urandom(400_000))
    (root / "config.yaml").write_text("layers: 10\n")
    return str(root)


def model_place(cache: str, uid: str) -> pathlib.Path:
    short_id, version = uid.split("-", 1)
    return pathlib.Path(cache, short_id, version)


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts by /proc")
@pytest.mark.parametrize("backend_name", LARGE_BACKENDS)
def test_one_file_of_a_large_model_reads_little_more_than_the_file(
    repository, backend_name, large, cache, monkeypatch
):
    uid = publish(large, compression=0)
    path, read = bytes_read_by(
        lambda: audmodel.load_file(uid, "small.onnx"), backend_name, monkeypatch
    )
    assert (
        pathlib.Path(path).read_bytes()
        == pathlib.Path(large, "small.onnx").read_bytes()
    )
    assert read < 2 * MiB
    # Kept apart: neither we nor audmodel 1.5 take it for the whole model.
    assert not model_place(cache, uid).exists()
    assert audmodel.cached().empty
    # Asked again, the cache answers without reading the archive.
    again, read = bytes_read_by(
        lambda: audmodel.load_file(uid, "small.onnx"), backend_name, monkeypatch
    )
    assert again == path
    assert read < 64 * 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts by /proc")
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_pattern_load_fetches_only_matching_files(
    repository, backend_name, several, cache, monkeypatch
):
    uid = publish(several, compression=0)
    folder, read = bytes_read_by(
        lambda: audmodel.load(uid, files="onnx/*.onnx"), backend_name, monkeypatch
    )
    # The two ONNX files (400,000 bytes), not the 400,000 of torch/model.pt.
    assert 400_000 <= read < 600_000
    assert files_below(folder) == {
        name: data
        for name, data in files_below(several).items()
        if name.startswith("onnx/")
    }
    assert not model_place(cache, uid).exists()
    # Patterns add to what was fetched; a list of them is one call.
    assert audmodel.load(uid, files=["*.yaml", "torch/*"]) == folder
    assert files_below(folder) == files_below(several)
    assert not model_place(cache, uid).exists()


@pytest.mark.parametrize("backend_name", LARGE_BACKENDS)
def test_a_whole_load_after_a_partial_one_fetches_only_what_is_missing(
    repository, backend_name, several, cache, monkeypatch
):
    uid = publish(several, compression=0)
    fetched = audmodel.load_file(uid, "torch/model.pt")
    inode = os.stat(fetched).st_ino
    folder, read = bytes_read_by(
        lambda: audmodel.load(uid, verbose=True), backend_name, monkeypatch
    )
    assert folder == str(model_place(cache, uid))
    assert files_below(folder) == files_below(several)
    # The file fetched before is linked in, not read again.
    assert os.stat(os.path.join(folder, "torch", "model.pt")).st_ino == inode
    if backend_name != "file-system":
        assert read < 500_000
    # And once the whole model is there, it answers load_file.
    assert audmodel.load_file(uid, "torch/model.pt") == os.path.join(
        folder, "torch", "model.pt"
    )


@pytest.mark.parametrize("backend_name", ["file-system", "s3"])
def test_a_fetched_file_that_changed_is_fetched_again(repository, several, cache):
    uid = publish(several)
    fetched = pathlib.Path(audmodel.load_file(uid, "onnx/model.onnx"))
    # Same size, other bytes: a bit flipped on the disk, or a hand's edit.
    data = bytearray(fetched.read_bytes())
    data[100] ^= 0xFF
    fetched.unlink()
    fetched.write_bytes(bytes(data))
    folder = audmodel.load(uid)
    assert files_below(folder) == files_below(several)


def test_the_file_errors_name_the_file_and_offer_the_closest(repository, several):
    uid = publish(several)
    with pytest.raises(audmodel.errors.NotInModelError, match="Did you mean") as error:
        audmodel.load_file(uid, "onnx/modle.onnx")
    assert "has no file 'onnx/modle.onnx'" in str(error.value)
    assert "onnx/model.onnx" in str(error.value)
    assert isinstance(error.value, ValueError)
    with pytest.raises(audmodel.errors.NotInModelError, match="is a folder"):
        audmodel.load_file(uid, "onnx")
    with pytest.raises(audmodel.errors.NotInModelError, match=r"'\*\.tflite' match"):
        audmodel.load(uid, files=["*.onnx", "*.tflite"])
    with pytest.raises(ValueError, match="'files' must be a glob"):
        audmodel.load(uid, files=[])
    with pytest.raises(TypeError, match="'path' must be a string"):
        audmodel.load_file(uid, None)


def test_paths_are_taken_as_files_lists_them(repository, several):
    uid = publish(several)
    path = audmodel.load_file(uid, "./onnx\\model.onnx")
    assert path == audmodel.load_file(uid, "onnx/model.onnx")
    assert sorted(audmodel.files(uid).index) == sorted(files_below(several))


def test_offline_a_fetched_file_answers_and_a_missing_one_is_named(
    repository, several, monkeypatch
):
    uid = publish(several)
    path = audmodel.load_file(uid, "config.yaml")
    monkeypatch.setattr(audmodel.config, "OFFLINE", True)
    assert audmodel.load_file(uid, "config.yaml") == path
    with pytest.raises(audmodel.errors.NotCachedError) as error:
        audmodel.load_file(uid, "torch/model.pt")
    assert "File 'torch/model.pt' of model" in str(error.value)
    # Names are checked offline too, from what the cache knows of the model.
    with pytest.raises(audmodel.errors.NotInModelError, match="Did you mean"):
        audmodel.load_file(uid, "config.yml")


def test_aliases_and_short_ids_resolve_as_for_load(repository, several):
    uid = publish(several, alias="prod")
    short_id = uid.split("-")[0]
    path = audmodel.load_file("prod", "config.yaml")
    assert audmodel.load_file(short_id, "config.yaml") == path
    assert pathlib.Path(path).read_text() == "layers: 10\n"


def test_a_whole_model_in_the_shared_cache_answers(
    repository, several, cache, tmp_path, monkeypatch
):
    uid = publish(several)
    shared = str(tmp_path / "shared")
    filled = audmodel.load(uid, cache_root=shared)
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", shared)
    path = audmodel.load_file(uid, "onnx/model.onnx")
    assert path == os.path.join(filled, "onnx", "model.onnx")
    assert audmodel.load(uid, files="*.yaml") == filled
    short_id, version = uid.split("-", 1)
    assert not model_place(cache, uid).exists()
    assert not os.path.exists(os.path.join(cache, short_id, f".{version}.parts"))


def test_a_folder_of_parts_planted_by_someone_else_is_not_used(
    repository, several, cache
):
    uid = publish(several)
    short_id, version = uid.split("-", 1)
    planted = pathlib.Path(cache, short_id, f".{version}.parts")
    planted.mkdir(parents=True)
    os.chmod(planted, 0o777)  # anyone may write into it
    (planted / "config.yaml").write_text("evil: true\n")
    path = audmodel.load_file(uid, "config.yaml")
    assert pathlib.Path(path).read_text() == "layers: 10\n"
    assert not os.stat(path).st_mode & 0o022


def test_files_fetched_alone_are_removed_from_the_cache_as_their_model(
    repository, several, cache
):
    uid = publish(several)
    short_id, version = uid.split("-", 1)
    parts = pathlib.Path(cache, short_id, f".{version}.parts")
    audmodel.load_file(uid, "config.yaml")
    assert parts.exists()
    # Only parts are cached: they are what a removal of the model frees.
    assert audmodel.remove_cached(uid) == [uid]
    assert not parts.exists()
    audmodel.load(uid, files="onnx/*")
    assert audmodel.remove_cached(short_id) == [uid]  # all versions
    assert not parts.exists()
    assert audmodel.remove_cached(uid) == []


@pytest.mark.parametrize("backend_name", REMOTE_BACKENDS[:1])
def test_a_removed_cache_entry_takes_its_parts_along(repository, several, cache):
    uid = publish(several)
    audmodel.load_file(uid, "config.yaml")
    audmodel.load(uid)
    short_id, version = uid.split("-", 1)
    assert pathlib.Path(cache, short_id, f".{version}.parts").exists()
    audmodel.remove_cached(uid)
    assert not pathlib.Path(cache, short_id, f".{version}.parts").exists()


def test_the_command_line_fetches_a_file_or_patterns(
    capsys, repository, several, cache
):
    from audmodel._cli import main

    uid = publish(several)
    assert main(["load", uid, "--file", "onnx/model.onnx"]) == 0
    path = capsys.readouterr().out.strip()
    assert (
        pathlib.Path(path).read_bytes()
        == pathlib.Path(several, "onnx", "model.onnx").read_bytes()
    )
    assert main(["load", uid, "--include", "*.yaml", "--include", "torch/*"]) == 0
    folder = capsys.readouterr().out.strip()
    assert sorted(files_below(folder)) == [
        "config.yaml",
        "onnx/model.onnx",
        "torch/model.pt",
    ]
    assert not model_place(cache, uid).exists()
    # A mistyped path is one line naming it, with exit status 1.
    assert main(["load", uid, "--file", "torch/model.pth"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no file 'torch/model.pth'" in err
    assert "Did you mean 'torch/model.pt'?" in err


def test_archives_written_by_audmodel_153_give_files_and_patterns(
    reference_repository, cache
):
    expected = json.loads((COMPAT / "expected.json").read_text())["models"]
    for uid, model in expected.items():
        for name, text in model["files"].items():
            path = audmodel.load_file(uid, name)
            assert pathlib.Path(path).read_text() == text
        folder = audmodel.load(uid, files="log/*")
        assert (
            files_below(folder)["log/eval.yaml"].decode()
            == model["files"]["log/eval.yaml"]
        )
        assert files_below(audmodel.load(uid)) == {
            name: text.encode() for name, text in model["files"].items()
        }
