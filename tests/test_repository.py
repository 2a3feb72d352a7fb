"""The Repository class."""

from __future__ import annotations

import audbackend
import pytest

import audmodel


def test_repr_equality_and_hash():
    a = audmodel.Repository("models", "/data", "file-system")
    b = audmodel.Repository("models", "/data", "file-system")
    c = audmodel.Repository("models", "/other", "file-system")
    assert repr(a) == "Repository('models', '/data', 'file-system')"
    assert a == b and a != c
    assert len({a, b, c}) == 2


def test_create_backend_interface_is_maven_with_registered_extensions(tmp_path):
    repository = audmodel.Repository("models", str(tmp_path), "file-system")
    interface = repository.create_backend_interface()
    assert isinstance(interface, audbackend.interface.Maven)
    assert isinstance(interface.backend, audbackend.backend.FileSystem)
    assert not interface.backend.opened
    assert interface.extensions == ["header.yaml", "meta.yaml", "alias.yaml"]


def test_unknown_backend_is_a_value_error(tmp_path):
    repository = audmodel.Repository("models", str(tmp_path), "ftp")
    with pytest.raises(ValueError, match="'ftp' is not a registered backend"):
        repository.create_backend_interface()


def test_register_adds_backend(tmp_path, monkeypatch):
    monkeypatch.setattr(
        audmodel.Repository,
        "backend_registry",
        dict(audmodel.Repository.backend_registry),
    )

    class Custom(audbackend.backend.FileSystem):
        pass

    audmodel.Repository.register("custom", Custom)
    assert audmodel.Repository.backend_registry["custom"] is Custom
    interface = audmodel.Repository(
        "models", str(tmp_path), "custom"
    ).create_backend_interface()
    assert isinstance(interface.backend, Custom)
