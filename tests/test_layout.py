"""The storage layout: every stored path of audmodel 1.5.3 is built and read back."""

from __future__ import annotations

import os

import audbackend
from helpers import COMPAT
import pytest

from audmodel import _layout


REFERENCE = COMPAT / "reference-repository" / "models"


def reference_files() -> list[str]:
    files = []
    for folder, _, names in os.walk(REFERENCE):
        rel = os.path.relpath(folder, REFERENCE).replace(os.sep, "/")
        files += [f"/{name}" if rel == "." else f"/{rel}/{name}" for name in names]
    return sorted(files)


def test_every_file_of_audmodel_1_5_3_is_parsed_and_built_again():
    files = reference_files()
    assert len(files) >= 10
    kinds = set()
    for stored in files:
        parsed = _layout.parse(stored)
        assert parsed is not None, stored
        assert _layout.versioned(parsed.path, parsed.version) == stored
        assert _layout.is_versioned(stored)
        kinds.add(parsed.ext)
    assert kinds == {".zip", ".header.yaml", ".meta.yaml", ".yaml", ".alias.yaml"}


def test_headers_and_aliases_are_told_from_their_paths():
    files = reference_files()
    headers = sorted(filter(None, map(_layout.header_of, files)))
    assert ("3e120e8d", "2.0.0") in headers
    assert all(_layout.header_path(sid).startswith("/_uid/") for sid, _ in headers)
    aliases = sorted(filter(None, map(_layout.alias_of, files)))
    assert aliases and all(
        _layout.versioned(_layout.alias_path(alias), _layout.ALIAS_VERSION) in files
        for alias in aliases
    )


@pytest.mark.parametrize(
    "path",
    [
        "/_uid/3e120e8d.header.yaml",
        "/_uid/3e120e8d.meta.yaml",
        "/_uid/3e120e8d.aliases.yaml",
        "/_uid/3e120e8d.publishing.yaml",
        "/_alias/best.model.alias.yaml",
        "/emotion/cnn/onnx/3e120e8d.zip",
        "/torch/8d99e4cf.zip",
        "/noext",
    ],
)
@pytest.mark.parametrize("version", ["1.0.0", "2.0.0-rc.1", "1.0.0_x"])
def test_versioned_paths_are_those_of_audbackends_maven_interface(
    path, version, tmp_path
):
    # audbackend's own rule, as audmodel 1.5 registers its extensions.
    maven = audbackend.interface.Maven(
        audbackend.backend.FileSystem(str(tmp_path), "r"),
        extensions=["header.yaml", "meta.yaml", "alias.yaml"],
    )
    assert _layout.versioned(path, version) == maven._path_with_version(path, version)


@pytest.mark.parametrize(
    "path, version",
    [("/_uid/...header.yaml", "1.0.0"), ("/_uid/x.header.yaml", "..")],
)
def test_versioned_paths_never_leave_the_repository(path, version):
    with pytest.raises((RuntimeError, ValueError)):
        _layout.versioned(path, version)


@pytest.mark.parametrize("name, subgroup", [("..", ""), ("a/b", ""), ("x", "a/..")])
def test_archive_paths_never_leave_the_repository(name, subgroup):
    with pytest.raises(RuntimeError):
        _layout.archive_path("3e120e8d", name, subgroup)
