"""Compatibility with audmodel 1.5: its repository is ours, and ours is its."""

from __future__ import annotations

import filecmp
import hashlib
import io
import json
import os
import pathlib
import zipfile

from helpers import COMPAT
from helpers import DATE
from helpers import SOURCES
from helpers import backend_files
from helpers import files_below
from helpers import read_stored
import pytest

import audmodel


EXPECTED = json.loads((COMPAT / "expected.json").read_text())
SHARED = pathlib.Path(__file__).parents[2] / "shared" / "compat"


def test_vendored_reference_data_is_what_audmodel_1_5_3_wrote():
    """The copy holds the files the manifest lists, unchanged.

    The manifest was made from the project's shared reference data; where
    that lies beside this clone, the copy is compared with it as well.
    """
    manifest = json.loads((COMPAT / "MANIFEST.json").read_text())
    own = {"README.rst", "MANIFEST.json"}
    held = {
        str(path.relative_to(COMPAT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in COMPAT.rglob("*")
        if path.is_file() and path.name not in own
    }
    assert held == manifest
    if SHARED.exists():
        comparison = filecmp.dircmp(COMPAT, SHARED, ignore=list(own))
        assert _differences(comparison) == []


def _differences(cmp: filecmp.dircmp) -> list[str]:
    found = cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
    for sub in cmp.subdirs.values():
        found += _differences(sub)
    return found


@pytest.mark.parametrize("uid", sorted(EXPECTED["models"]))
def test_reference_models_answer_as_in_audmodel(reference_repository, uid):
    expected = EXPECTED["models"][uid]
    header = audmodel.header(uid)
    assert {**header, "date": str(header["date"])} == expected["header"]
    assert list(header) == [
        "author",
        "date",
        "name",
        "parameters",
        "subgroup",
        "version",
    ]
    assert audmodel.meta(uid) == expected["meta"]
    assert audmodel.aliases(uid) == expected["aliases"]
    assert audmodel.versions(uid) == expected["versions"]
    assert audmodel.latest_version(uid) == expected["latest_version"]
    host = str(COMPAT / "reference-repository")
    assert audmodel.url(uid) == expected["url"].replace("<host>", host)
    assert audmodel.author(uid) == expected["header"]["author"]
    assert audmodel.date(uid) == expected["header"]["date"]
    assert audmodel.name(uid) == expected["header"]["name"]
    assert audmodel.parameters(uid) == expected["header"]["parameters"]
    assert audmodel.subgroup(uid) == expected["header"]["subgroup"]
    assert audmodel.version(uid) == expected["header"]["version"]
    assert audmodel.repository(uid) == reference_repository
    assert audmodel.exists(uid)
    folder = audmodel.load(uid)
    loaded = {path: data.decode() for path, data in files_below(folder).items()}
    assert loaded == expected["files"]


@pytest.mark.parametrize("alias", sorted(EXPECTED["aliases"]))
def test_reference_aliases_resolve_as_in_audmodel(reference_repository, alias):
    uid = EXPECTED["aliases"][alias]
    assert audmodel.resolve_alias(alias) == uid
    assert audmodel.load(alias) == audmodel.load(uid)
    assert audmodel.header(alias) == audmodel.header(uid)


def test_short_id_means_latest_version(reference_repository):
    assert audmodel.load("3e120e8d").endswith(os.path.join("3e120e8d", "2.0.0"))
    assert audmodel.header("3e120e8d")["version"] == "2.0.0"


@pytest.mark.parametrize("vector", EXPECTED["uid_vectors"], ids=lambda v: v["uid"])
def test_uid_vectors(vector):
    args = (vector["name"], vector["params"])
    assert (
        audmodel.uid(*args, vector["version"], subgroup=vector["subgroup"])
        == (vector["uid"])
    )
    assert audmodel.uid(*args, subgroup=vector["subgroup"]) == vector["short_uid"]


@pytest.mark.parametrize(
    "vector",
    EXPECTED["legacy_uid_vectors"],
    ids=lambda v: v["legacy_uid"],
)
def test_legacy_uid_vectors(vector):
    uid = audmodel.legacy_uid(
        vector["name"],
        vector["params"],
        vector["version"],
        subgroup=vector["subgroup"],
        private=vector["private"],
    )
    assert uid == vector["legacy_uid"]


def publish_reference_models(repository: audmodel.Repository) -> None:
    """Repeat what audmodel 1.5.3 did to write the reference repository."""
    models = EXPECTED["models"]
    for uid in [
        "3e120e8d-1.0.0",
        "3e120e8d-2.0.0",
        "8d99e4cf-1.0.0-rc.1",
        "0dbca4fd-3.1.4",
    ]:
        header = models[uid]["header"]
        source = "onnx_v2" if uid == "3e120e8d-2.0.0" else "onnx_v1"
        published = audmodel.publish(
            str(SOURCES / source),
            header["name"],
            header["parameters"],
            header["version"],
            repository=repository,
            author=header["author"],
            date=DATE,
            subgroup=header["subgroup"] or None,
            compression=0 if uid.startswith("0dbca4fd") else 1,
            meta=models[uid]["meta"] or None,
        )
        assert published == uid
    audmodel.set_alias("emotion-small", "3e120e8d-1.0.0")
    audmodel.set_alias("emotion-production", "3e120e8d-2.0.0")
    audmodel.set_alias("emotion-small", "3e120e8d-2.0.0")


def test_published_layout_equals_audmodel(repository):
    publish_reference_models(repository)
    reference = audmodel.Repository(
        "models", str(COMPAT / "reference-repository"), "file-system"
    )
    assert backend_files(repository) == backend_files(reference)
    yaml_files = [path for path in backend_files(reference) if path.endswith(".yaml")]
    for path in yaml_files:
        assert read_stored(repository, path) == read_stored(reference, path), path


def test_published_archives_have_entries_as_in_audmodel(repository, tmp_path):
    publish_reference_models(repository)
    reference = COMPAT / "reference-repository" / "models"
    for path in backend_files(repository):
        if not path.endswith(".zip"):
            continue
        ours = zipfile.ZipFile(io.BytesIO(read_stored(repository, path)))
        theirs = zipfile.ZipFile(reference / path[1:])
        assert sorted(ours.namelist()) == sorted(theirs.namelist())
        for info in ours.infolist():
            assert not info.is_dir()
            assert info.compress_type == theirs.getinfo(info.filename).compress_type
            assert ours.read(info) == theirs.read(info.filename)


def test_cache_written_by_audmodel_is_used_without_repository(
    reference_repository, cache
):
    # audmodel 1.5 leaves exactly this layout in a cache.
    folder = pathlib.Path(cache, "3e120e8d", "1.0.0")
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_text("from the cache")
    assert audmodel.load("3e120e8d-1.0.0") == str(folder)
    assert (folder / "model.onnx").read_text() == "from the cache"


def test_our_cache_has_audmodel_layout(reference_repository, cache):
    # A cache shared by a group has group-writable folders; there, lock
    # files are group-writable too, as audmodel 1.5 makes them.
    root = pathlib.Path(cache, "3e120e8d")
    root.mkdir(parents=True)
    root.chmod(0o2775)
    audmodel.load("emotion-small")
    audmodel.meta("emotion-small")
    names = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    assert names == ["2.0.0", "2.0.0.header.yaml", "2.0.0.meta.yaml"]
    locks = sorted(p.name for p in root.iterdir() if p.name.endswith(".lock"))
    assert ".2.0.0.lock" in locks
    for lock in locks:
        assert (root / lock).stat().st_mode & 0o777 == 0o664
    reference = COMPAT / "reference-repository" / "models" / "_uid" / "3e120e8d"
    assert (root / "2.0.0.header.yaml").read_bytes() == (
        reference / "2.0.0" / "3e120e8d-2.0.0.header.yaml"
    ).read_bytes()
