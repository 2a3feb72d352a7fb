"""Finding models: available(), lookup_table() and files(), on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import audbackend
from helpers import COMPAT
from helpers import publish
from helpers import start_script
from helpers import stored_path
from helpers import write_stored
import pytest

import audmodel
from audmodel import _catalog
from audmodel.backend._common import RangedReads


COLUMNS = ["name", "subgroup", "version", "author", "date", "repository", "parameters"]


@pytest.fixture
def several(repository, model_root) -> dict[str, str]:
    """Models of two names, three subgroups, some versions; label -> UID."""
    return {
        "anger-1": publish(
            model_root, "1.0.0", subgroup="emotion", params={"task": "anger"}
        ),
        "anger-2": publish(
            model_root, "2.0.0", subgroup="emotion", params={"task": "anger"}
        ),
        "anger-10": publish(
            model_root, "10.0.0", subgroup="emotion", params={"task": "anger"}
        ),
        "joy-cnn": publish(
            model_root,
            subgroup="emotion.cnn",
            params={"task": "joy", "layers": 4},
        ),
        "plural": publish(model_root, subgroup="emotions", params={"task": "anger"}),
        "other-name": publish(
            model_root, name="onnx", subgroup="emotion", params={"task": "anger"}
        ),
    }


def test_available_lists_every_model_with_its_header(several, repository):
    table = audmodel.available()
    assert list(table.columns) == COLUMNS
    assert table.index.name == "uid"
    assert sorted(table.index) == sorted(several.values())
    row = table.loc[several["joy-cnn"]]
    assert row["name"] == "torch"
    assert row["subgroup"] == "emotion.cnn"
    assert row["version"] == "1.0.0"
    assert row["author"] == "tester"
    assert row["date"] == "1985-11-18"
    assert row["repository"] == repository.name
    assert row["parameters"] == {"task": "joy", "layers": 4}


def test_available_lists_a_version_that_holds_the_ending_of_yaml_files(
    repository, model_root
):
    """S3 lists /_uid/ by names ending in '.yaml'; this version cuts one short."""
    uids = [publish(model_root, "1.0.0"), publish(model_root, "1.0.0-rc.yaml")]
    assert sorted(audmodel.available().index) == sorted(uids)


def test_available_filters(several):
    def found(**kwargs) -> set[str]:
        uids = set(audmodel.available(**kwargs).index)
        return {label for label, uid in several.items() if uid in uids}

    assert found(name="onnx") == {"other-name"}
    assert found(subgroup="emotion") == {
        "anger-1",
        "anger-2",
        "anger-10",
        "joy-cnn",
        "other-name",
    }
    assert found(subgroup="emotion.cnn") == {"joy-cnn"}
    assert found(version="2.0.0") == {"anger-2"}
    assert found(params={"task": "joy"}) == {"joy-cnn"}
    assert found(params={"task": "joy", "layers": 4}) == {"joy-cnn"}
    assert found(params={"task": "joy", "layers": 5}) == set()
    assert found(name="torch", subgroup="emotion", latest=True) == {
        "anger-10",  # 10.0.0 is later than 2.0.0
        "joy-cnn",
    }


def test_available_sorts_versions_semantically(several):
    uids = list(audmodel.available(subgroup="emotion", name="torch").index)
    anger = [uid for uid in uids if uid.startswith(several["anger-1"][:8])]
    assert [uid.split("-", 1)[1] for uid in anger] == ["1.0.0", "2.0.0", "10.0.0"]


def test_empty_result_is_an_empty_table_with_the_columns(repository):
    table = audmodel.available(name="nothing")
    assert table.empty
    assert list(table.columns) == COLUMNS
    assert table.index.name == "uid"


def test_model_in_two_repositories_is_listed_once_from_the_first(
    make_repository, model_root, monkeypatch
):
    first, second = make_repository(), make_repository()
    # The same model published to each, as a copy between repositories does.
    for repository in (first, second):
        monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
        uid = publish(model_root)
    only_second = publish(model_root, "2.0.0")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    table = audmodel.available()
    assert sorted(table.index) == sorted([uid, only_second])
    assert table.loc[uid, "repository"] == first.name
    assert table.loc[only_second, "repository"] == second.name
    assert list(audmodel.available(repository=second).index) == [uid, only_second]


def test_headers_are_read_once_then_from_the_cache(several, monkeypatch, cache):
    audmodel.available()
    short_ids = {uid.split("-")[0] for uid in several.values()}
    assert all(os.path.exists(_catalog.index_file(cache, s)) for s in short_ids)
    assert not os.path.exists(os.path.join(cache, ".headers.json"))

    def no_reading(*args):
        raise AssertionError("a header was read again")

    monkeypatch.setattr(_catalog, "_read_header", no_reading)
    monkeypatch.setattr(_catalog, "_MEMO", {})  # as in a new process
    assert len(audmodel.available()) == len(several)


def test_broken_index_is_rebuilt(several, cache):
    audmodel.available()
    short_id = next(iter(several.values())).split("-")[0]
    with open(_catalog.index_file(cache, short_id), "w") as fp:
        fp.write('{"format": 1, "headers": [broken')
    assert len(audmodel.available()) == len(several)
    assert len(indexed(cache)) == len(several)


def indexed(cache: str) -> dict:
    """Every header the index files of a cache hold."""
    found = {}
    for name in os.listdir(cache):
        path = os.path.join(cache, name, ".headers.json")
        if os.path.exists(path):
            with open(path) as fp:
                found.update(json.load(fp)["headers"])
    return found


def test_an_index_of_earlier_versions_is_taken_into_model_folders(several, cache):
    audmodel.available()
    merged = {"format": 1, "headers": indexed(cache)}
    for name in os.listdir(cache):
        os.remove(os.path.join(cache, name, ".headers.json"))
    with open(os.path.join(cache, ".headers.json"), "w") as fp:
        json.dump(merged, fp)
    assert len(audmodel.available()) == len(several)  # read from it
    assert not os.path.exists(os.path.join(cache, ".headers.json"))
    assert sorted(indexed(cache)) == sorted(merged["headers"])
    assert all(os.path.isdir(os.path.join(cache, name)) for name in os.listdir(cache))


def test_header_that_cannot_be_parsed_is_left_out_with_a_warning(several, repository):
    write_stored(repository, stored_path(several["plural"], "header"), b"a: [\n")
    with pytest.warns(UserWarning, match=f"Model '{several['plural']}' .* left out"):
        table = audmodel.available()
    assert several["plural"] not in table.index
    assert len(table) == len(several) - 1


def test_unreachable_repository_raises_backend_error(tmp_path, monkeypatch):
    missing = audmodel.Repository("models", str(tmp_path / "nowhere"), "file-system")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [missing])
    with pytest.raises(audbackend.BackendError, match="Cannot open"):
        audmodel.available()
    with pytest.raises(audbackend.BackendError):
        audmodel.lookup_table("torch")


def test_lookup_table_has_a_column_per_parameter(repository, model_root):
    first = publish(model_root, params={"model": "cnn10", "sampling_rate": 16000})
    second = publish(model_root, params={"model": "cnn14", "sampling_rate": 8000})
    publish(model_root, name="onnx", params={"other": 1})
    table = audmodel.lookup_table("torch")
    assert table.index.name == "uid"
    assert sorted(table.index) == sorted([first, second])
    assert list(table.columns) == ["model", "sampling_rate"]
    assert table.loc[second, "model"] == "cnn14"
    assert table["sampling_rate"].dtype.kind == "i"
    # A new parameter adds a column; the others have None there.
    third = publish(model_root, params={"model": "cnn6", "data": "emodb"})
    table = audmodel.lookup_table("torch")
    columns = list(table.columns)  # each parameter where it first appears
    assert sorted(columns) == ["data", "model", "sampling_rate"]
    assert columns[0] == "model"
    assert table.loc[third, "data"] == "emodb"
    assert table.loc[first, "data"] is None
    assert table.loc[third, "sampling_rate"] is None


def test_lookup_table_by_subgroup_and_version(repository, model_root):
    publish(model_root, subgroup="a", params={"x": 1})
    wanted = publish(model_root, "2.0.0", subgroup="a.b", params={"x": 2})
    assert list(audmodel.lookup_table("torch", subgroup="a.b").index) == [wanted]
    assert list(audmodel.lookup_table("torch", version="2.0.0").index) == [wanted]
    with pytest.warns(UserWarning, match="No model is named 'nothing'"):
        assert audmodel.lookup_table("nothing").empty


def test_files_are_read_from_the_archives_end(repository, tmp_path, monkeypatch, cache):
    root = tmp_path / "big"
    (root / "sub").mkdir(parents=True)
    weights = os.urandom(6 * 1024 * 1024)
    (root / "weights.bin").write_bytes(weights)
    (root / "sub" / "config.yaml").write_text("layers: 3\n")
    uid = publish(str(root), alias="big")
    read = []
    read_range, read_tail = RangedReads.read_range, RangedReads.read_tail

    def count_range(self, *args):
        data = read_range(self, *args)
        read.append(len(data))
        return data

    def count_tail(self, *args):
        data, size = read_tail(self, *args)
        read.append(len(data))
        return data, size

    monkeypatch.setattr(RangedReads, "read_range", count_range)
    monkeypatch.setattr(RangedReads, "read_tail", count_tail)
    table = audmodel.files("big")
    assert table.index.name == "path"
    assert list(table.columns) == ["size", "modified", "crc32"]
    assert list(table.index) == ["sub/config.yaml", "weights.bin"]
    assert table.loc["weights.bin", "size"] == len(weights)
    assert table.loc["weights.bin", "crc32"] == zlib.crc32(weights)
    assert table.loc["sub/config.yaml", "crc32"] == zlib.crc32(b"layers: 3\n")
    assert str(table["modified"].dtype).startswith("datetime64")
    # Only the archive's end was read (and the header), not the archive.
    archive_reads = [n for n in read if n > 200]
    assert 0 < sum(archive_reads) < 100_000
    short_id, version = uid.split("-", 1)
    assert not os.path.exists(os.path.join(cache, short_id, version))


def test_files_of_an_unknown_model(repository):
    with pytest.raises(RuntimeError, match="does not exist"):
        audmodel.files("00000000-1.0.0")


def test_files_of_a_broken_archive(repository, model_root):
    uid = publish(model_root)
    write_stored(repository, stored_path(uid), b"not a zip file" * 10)
    with pytest.raises(RuntimeError, match=f"Cannot list the files of model '{uid}'"):
        audmodel.files(uid)


def test_reference_repository_of_audmodel_1_5(reference_repository):
    expected = json.loads((COMPAT / "expected.json").read_text())["models"]
    table = audmodel.available()
    assert sorted(table.index) == sorted(expected)
    for uid, answers in expected.items():
        header = answers["header"]
        row = table.loc[uid]
        assert row["name"] == header["name"]
        assert row["subgroup"] == header["subgroup"]
        assert row["date"] == header["date"]
        assert row["parameters"] == header["parameters"]
        files = audmodel.files(uid)
        assert sorted(files.index) == sorted(answers["files"])
        for path, text in answers["files"].items():
            assert files.loc[path, "size"] == len(text.encode())
            assert files.loc[path, "crc32"] == zlib.crc32(text.encode())


def test_import_does_not_import_pandas():
    code = "import sys, audmodel; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


SEARCHER = """
import sys, audmodel
repository = audmodel.Repository(sys.argv[2], sys.argv[1], sys.argv[3])
audmodel.config.REPOSITORIES = [repository]
print(len(audmodel.available(cache_root=sys.argv[4])))
"""


def test_processes_searching_at_once_share_the_header_index(
    several, repository, tmp_path, cache
):
    processes = [
        start_script(SEARCHER, tmp_path, repository, cache, stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert outputs == [str(len(several))] * 4
    assert sorted(indexed(cache)) == sorted(several.values())
    assert not [f for f in os.listdir(cache) if f.startswith(".staging-")]
