"""Every error has a class of its own that 1.5's ``except`` clauses still catch."""

from __future__ import annotations

import ast
import inspect
import pathlib

from helpers import publish
import pytest

import audmodel
from audmodel import errors


PACKAGE = pathlib.Path(audmodel.__file__).parent


def test_each_class_is_an_error_of_the_package_and_of_a_built_in_type():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)]
    assert len(classes) > 15
    for cls in classes:
        assert issubclass(cls, errors.Error)
        if cls is not errors.Error:
            # ImportError: an optional extra that is not installed.
            built_in = (
                RuntimeError | ValueError | TypeError | FileNotFoundError | ImportError
            )
            assert issubclass(cls, built_in), cls


def test_the_package_raises_no_bare_built_in_error():
    bare = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise | ast.Return) and isinstance(
                getattr(node, "exc", None) or getattr(node, "value", None), ast.Call
            ):
                call = node.exc if isinstance(node, ast.Raise) else node.value
                name = getattr(call.func, "id", None)
                if name in ("RuntimeError", "ValueError", "TypeError", "ImportError"):
                    bare.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert bare == []


def test_errors_are_caught_as_in_audmodel_1_5_and_precisely(
    repository, model_root, monkeypatch
):
    uid = publish(model_root)
    short_id = uid.split("-")[0]
    cases = [
        (
            lambda: audmodel.load(f"{short_id}-9.9.9"),
            errors.ModelNotFoundError,
            RuntimeError,
            f"A model with ID '{short_id}-9.9.9' does not exist.",
        ),
        (
            lambda: audmodel.resolve_alias("nothing"),
            errors.AliasNotFoundError,
            RuntimeError,
            "An alias with name 'nothing' does not exist.",
        ),
        (
            lambda: publish(model_root),
            errors.ModelExistsError,
            RuntimeError,
            f"A model with ID '{uid}' exists already.",
        ),
        (
            lambda: publish(model_root, "one"),
            errors.InvalidVersionError,
            ValueError,
            "'one' is not a valid version.",
        ),
        (
            lambda: audmodel.set_alias("a/b", uid),
            errors.InvalidAliasError,
            ValueError,
            "'a/b' is not an allowed alias name.",
        ),
        (
            lambda: publish(model_root, name="../x"),
            errors.InvalidNameError,
            ValueError,
            "'../x' is not a valid model name.",
        ),
        (
            lambda: publish(model_root, subgroup="a..b"),
            errors.InvalidSubgroupError,
            ValueError,
            "'a..b' is not a valid subgroup.",
        ),
    ]
    for call, cls, base, message in cases:
        with pytest.raises(base) as error:
            call()
        assert type(error.value) is cls
        assert str(error.value).startswith(message)
    monkeypatch.setenv("AUDMODEL_OFFLINE", "1")
    with pytest.raises(errors.NotCachedError, match="is not cached"):
        audmodel.load(uid)
    with pytest.raises(errors.OfflineError, match="Offline mode is on"):
        audmodel.set_alias("best", uid)


def test_a_broken_configuration_file_is_a_configuration_error(tmp_path):
    from audmodel import _config

    path = tmp_path / "audmodel.yaml"
    path.write_text("repositories: []\n")
    with pytest.raises(ValueError, match="empty 'repositories:'") as error:
        _config.read_config_file(str(path))
    assert isinstance(error.value, errors.ConfigurationError)
