"""Fixtures: every test gets its own cache and repository configuration."""

from __future__ import annotations

import datetime
import os
import pathlib

import pytest

import audmodel


COMPAT = pathlib.Path(__file__).parent / "compat"
SOURCES = COMPAT / "reference-sources"
DATE = datetime.date(1985, 11, 18)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point the cache into the test's folder and configure no repository."""
    monkeypatch.delenv("AUDMODEL_CACHE_ROOT", raising=False)
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [])
    return tmp_path


@pytest.fixture
def cache(tmp_path) -> str:
    return str(tmp_path / "cache")


def make_file_system_repository(
    tmp_path: pathlib.Path, name: str
) -> audmodel.Repository:
    host = tmp_path / f"host-{name}"
    (host / name).mkdir(parents=True)
    return audmodel.Repository(name, str(host), "file-system")


# Backends the API suite runs against. Each maker creates a fresh, empty
# repository; further backends add an entry here.
REPOSITORY_MAKERS = {
    "file-system": make_file_system_repository,
}


@pytest.fixture(params=sorted(REPOSITORY_MAKERS))
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def make_repository(backend_name, tmp_path, request):
    """Make fresh, empty repositories of the backend under test."""
    count = iter(range(1000))

    def make(name: str | None = None) -> audmodel.Repository:
        return REPOSITORY_MAKERS[backend_name](tmp_path, name or f"models{next(count)}")

    return make


@pytest.fixture
def repository(make_repository, monkeypatch) -> audmodel.Repository:
    """A fresh repository, the only configured one."""
    repo = make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repo])
    return repo


@pytest.fixture
def model_root(tmp_path) -> str:
    """A small model folder with a nested file."""
    root = tmp_path / "model"
    (root / "log").mkdir(parents=True)
    (root / "model.onnx").write_bytes(os.urandom(2048))
    (root / "model.yaml").write_text("layers: 10\n")
    (root / "log" / "eval.yaml").write_text("uar: 0.5\n")
    return str(root)


@pytest.fixture
def reference_repository(monkeypatch) -> audmodel.Repository:
    """The read-only repository written by audmodel 1.5.3, configured."""
    repo = audmodel.Repository(
        "models", str(COMPAT / "reference-repository"), "file-system"
    )
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repo])
    return repo


def publish(root: str, version: str = "1.0.0", **kwargs) -> str:
    """Publish with fixed name, parameters, author and date."""
    kwargs.setdefault("author", "tester")
    kwargs.setdefault("date", DATE)
    name = kwargs.pop("name", "torch")
    params = kwargs.pop("params", {"model": "cnn10", "sampling_rate": 16000})
    return audmodel.publish(root, name, params, version, **kwargs)


def files_below(root: str) -> dict[str, bytes]:
    """Relative POSIX path -> content of every file below root."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, "rb") as fp:
                found[rel] = fp.read()
    return found
