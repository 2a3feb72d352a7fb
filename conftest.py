"""Set-up for the examples in docstrings and docs.

A docstring's examples run against a private file-system repository with
one model in it. A page of the docs gets nothing: its examples set up what
they need themselves, as a reader pasting them into a new interpreter
would; only the configuration, the working folder and the temporary
folder are put back afterwards.
"""

import datetime
import os
import tempfile

import pytest

import audmodel


@pytest.fixture(autouse=True)
def doctest_repository(request, tmp_path, monkeypatch):
    """Give each doctest a file-system repository with one model in it."""
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDMODEL_CACHE_ROOT", raising=False)
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(tmp_path / "cache"))
    for setting, value in [
        ("SIGNING_KEY", None),
        ("TRUSTED_KEYS", []),
        ("REQUIRE_SIGNATURE", False),
    ]:
        monkeypatch.setattr(audmodel.config, setting, value)
    if str(request.node.fspath).endswith(".rst"):
        monkeypatch.setattr(audmodel.config, "REPOSITORIES", [])
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        yield
        return
    repository = audmodel.Repository("models", str(tmp_path / "host"), "file-system")
    os.makedirs(tmp_path / "host" / "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    model_root = tmp_path / "model"
    model_root.mkdir()
    (model_root / "model.yaml").write_text("layers: 10\n")
    audmodel.publish(
        str(model_root),
        "torch",
        {
            "model": "cnn10",
            "data": "emodb",
            "feature": "melspec",
            "sampling_rate": 16000,
        },
        "1.0.0",
        subgroup="audmodel.dummy.cnn",
        alias="my-model",
        author="sphinx",
        date=datetime.date(1985, 11, 18),
        meta={"data": {"emodb": {"version": "1.1.1"}}},
    )
    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(audmodel=audmodel, os=os, model_root=str(model_root))
    yield
