"""Errors start with audmodel 1.5.3's words, so scripts that match them work.

Each expected start below was read off audmodel 1.5.3 by triggering the
error; ``tests/compat/FORMAT.md`` lists them. Where this package says more,
the detail follows audmodel's first sentence.
"""

from __future__ import annotations

import os
import re
import signal
import time

import audbackend
from helpers import create_bucket
from helpers import publish
from helpers import write_stored
import pytest
from test_config import import_config
from test_config import write_user_config

import audmodel
from audmodel import _cli
from audmodel import _publish


BACKEND_ERROR = (
    "An exception was raised by the backend, "
    "please see stack trace for further information."
)
ALIAS_FILE = "/_alias/best/1.0.0/best-1.0.0.alias.yaml"
BROKEN_YAML = b"uid: {this is not valid yaml: [[[\n"


def starts_with(text: str) -> str:
    return "^" + re.escape(text)


def exactly(text: str) -> str:
    return "^" + re.escape(text) + "$"


# --- an unreachable or missing repository ----------------------------------------


def missing_repository(kind: str, request, tmp_path) -> audmodel.Repository:
    if kind == "file-system":
        return audmodel.Repository("models", str(tmp_path / "nowhere"), kind)
    if kind == "artifactory":
        server = request.getfixturevalue("artifactory_server")
        return audmodel.Repository("no-such-repository", server.url, kind)
    backend, _, server = kind.partition("-")  # e.g. 's3-s3rver'
    endpoint = request.getfixturevalue(f"{server or 'moto'}_endpoint")
    return audmodel.Repository("no-such-bucket", endpoint, backend)


CALLS = {
    "aliases": lambda: audmodel.aliases("00000000-1.0.0"),
    "author": lambda: audmodel.author("00000000-1.0.0"),
    "exists": lambda: audmodel.exists("00000000-1.0.0"),
    "header": lambda: audmodel.header("00000000-1.0.0"),
    "latest_version": lambda: audmodel.latest_version("00000000"),
    "load": lambda: audmodel.load("00000000-1.0.0"),
    "meta": lambda: audmodel.meta("00000000-1.0.0"),
    "repository": lambda: audmodel.repository("00000000-1.0.0"),
    "resolve_alias": lambda: audmodel.resolve_alias("my-alias"),
    "set_alias": lambda: audmodel.set_alias("my-alias", "00000000-1.0.0"),
    "update_meta": lambda: audmodel.update_meta("00000000-1.0.0", {}),
    "url": lambda: audmodel.url("00000000-1.0.0"),
    "versions": lambda: audmodel.versions("00000000"),
}


@pytest.mark.parametrize(
    "kind", ["file-system", "s3", "minio", "s3-s3rver", "artifactory"]
)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_missing_repository_keeps_audbackends_sentence_then_names_it(
    kind, call, request, tmp_path, monkeypatch
):
    repository = missing_repository(kind, request, tmp_path)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    with pytest.raises(audbackend.BackendError) as error:
        CALLS[call]()
    message = str(error.value)
    assert message.startswith(BACKEND_ERROR + " Cannot open "), message
    assert str(repository) in message
    assert isinstance(error.value.__cause__, Exception)  # the cause stays chained


def test_publish_to_missing_repository(model_root, request, tmp_path, monkeypatch):
    repository = missing_repository("file-system", request, tmp_path)
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    with pytest.raises(audbackend.BackendError, match=starts_with(BACKEND_ERROR)):
        publish(model_root)


def test_command_line_prints_only_the_detail(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    status = _cli.main(["exists", "00000000-1.0.0", "-r", "models", missing, "s3x"])
    assert status == 1  # an unknown backend is a ValueError
    capsys.readouterr()
    status = _cli.main(
        ["exists", "00000000-1.0.0", "-r", "models", missing, "file-system"]
    )
    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith("audmodel: error: Cannot open Repository('models', ")
    assert "stack trace" not in error


def test_backend_error_of_an_s3_bucket_names_the_bucket(s3_endpoint, monkeypatch):
    endpoint = s3_endpoint
    create_bucket(endpoint, "present-bucket")
    missing = audmodel.Repository("absent-bucket", endpoint, "s3")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [missing])
    with pytest.raises(audbackend.BackendError) as error:
        audmodel.exists("00000000-1.0.0")
    assert "bucket 'absent-bucket'" in str(error.value)
    assert "the bucket does not exist" in str(error.value)


# --- a corrupt alias file ----------------------------------------------------------


def test_corrupt_alias_file(repository, model_root):
    uid = publish(model_root, alias="best")
    write_stored(repository, ALIAS_FILE, BROKEN_YAML)
    with pytest.raises(RuntimeError) as error:
        audmodel.resolve_alias("best")
    message = str(error.value)
    assert message.startswith("Failed to parse alias file: while parsing"), message
    assert ALIAS_FILE in message
    assert str(repository) in message
    # Where an alias stands for a model ID, audmodel 1.5 says the model is
    # unknown; the parser's words follow.
    with pytest.raises(RuntimeError) as error:
        audmodel.load("best")
    message = str(error.value)
    assert message.startswith("A model with ID 'best' does not exist. "), message
    assert "Failed to parse alias file: " in message
    # Setting the alias again mends the file, as in audmodel 1.5.
    audmodel.set_alias("best", uid)
    assert audmodel.resolve_alias("best") == uid
    assert audmodel.aliases(uid) == ["best"]


def test_alias_file_that_names_no_model(repository, model_root):
    publish(model_root, alias="best")
    write_stored(repository, ALIAS_FILE, b"something: else\n")
    with pytest.raises(
        RuntimeError, match=starts_with("Failed to parse alias file: it does not name")
    ):
        audmodel.resolve_alias("best")


def test_corrupt_alias_in_another_repository_is_replaced(
    make_repository, model_root, monkeypatch
):
    first, second = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    uid = publish(model_root, repository=second)
    write_stored(first, ALIAS_FILE, BROKEN_YAML)
    audmodel.set_alias("best", uid)
    assert audmodel.resolve_alias("best") == uid


# --- argument checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, start",
    [
        (
            {"subgroup": "_uid"},
            ValueError,
            "It is not allowed to set subgroup to '_uid'.",
        ),
        (
            {"subgroup": "_alias"},
            ValueError,
            "It is not allowed to set subgroup to '_alias'.",
        ),
        (
            {"alias": "a b"},
            ValueError,
            "'a b' is not an allowed alias name. Alias names may only contain "
            "letters, numbers, underscores, hyphens, and are not allowed to be "
            "confused with a model ID.",
        ),
        (
            {"compression": 10},
            ValueError,
            "'compression' has to be between 0 and 9, not 10.",
        ),
        (
            {"compression": -1},
            ValueError,
            "'compression' has to be between 0 and 9, not -1.",
        ),
        (
            {"version": "v1"},
            ValueError,
            "'v1' is not a valid version. Versions have to be semantic versions "
            "'X.Y.Z', where X, Y, Z are integers, optionally followed by a suffix "
            "starting with '-', e.g. '1.0.0' or '1.0.0-prod'.",
        ),
        (
            {"params": {"fn": print}},
            RuntimeError,
            "Cannot serialize the following object to a YAML file:\n",
        ),
        (
            {"meta": {"fn": print}},
            RuntimeError,
            "Cannot serialize the following object to a YAML file:\n",
        ),
    ],
)
def test_publish_argument_checks(repository, model_root, kwargs, error, start):
    with pytest.raises(error, match=starts_with(start)):
        publish(model_root, **kwargs)


def test_publish_of_missing_folder(repository, tmp_path):
    root = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as error:
        publish(root)
    assert error.value.errno == 2
    assert error.value.filename == root
    # audmodel 1.5's sentence first, then a hint.
    said = f"[Errno 2] No such file or directory: '{root}'"
    assert str(error.value) == f"{said}. A model folder is expected there."


def test_publish_of_existing_model(repository, model_root):
    uid = publish(model_root)
    with pytest.raises(
        RuntimeError, match=exactly(f"A model with ID '{uid}' exists already.")
    ):
        publish(model_root)


def test_publish_without_repository(model_root):
    with pytest.raises(
        ValueError,
        match=starts_with(
            "You have to provide a repository, "
            "see audmodel.config.REPOSITORIES for an example."
        ),
    ):
        publish(model_root)


@pytest.mark.parametrize("alias", ["a/b", "00000000", "00000000-1.0.0"])
def test_set_alias_with_bad_name(repository, model_root, alias):
    uid = publish(model_root)
    with pytest.raises(
        ValueError, match=starts_with(f"'{alias}' is not an allowed alias name.")
    ):
        audmodel.set_alias(alias, uid)


def test_update_meta_with_value_yaml_cannot_hold(repository, model_root):
    uid = publish(model_root)
    with pytest.raises(
        RuntimeError,
        match=starts_with("Cannot serialize the following object to a YAML file:\n"),
    ):
        audmodel.update_meta(uid, {"fn": print})


def test_url_of_unknown_type(repository, model_root):
    uid = publish(model_root)
    with pytest.raises(
        ValueError,
        match=exactly("'type' has to be one of 'model', 'header', 'meta', not 'zip'"),
    ):
        audmodel.url(uid, type="zip")


def test_unknown_backend():
    repository = audmodel.Repository("models", "host", "no-such-backend")
    # audmodel 1.5's sentence, then the registered backends.
    with pytest.raises(
        ValueError,
        match=starts_with(
            "'no-such-backend' is not a registered backend. Registered are: "
        ),
    ):
        repository.create_backend_interface()


@pytest.mark.parametrize(
    "function", ["header", "meta", "load", "url", "aliases", "latest_version"]
)
@pytest.mark.parametrize("uid", ["00000000-1.0.0", "00000000", "no-such-alias"])
def test_unknown_model(repository, function, uid):
    with pytest.raises(
        RuntimeError, match=exactly(f"A model with ID '{uid}' does not exist.")
    ):
        getattr(audmodel, function)(uid)


def test_unknown_alias(repository):
    with pytest.raises(
        RuntimeError,
        match=exactly("An alias with name 'no-such-alias' does not exist."),
    ):
        audmodel.resolve_alias("no-such-alias")


# --- the configuration file --------------------------------------------------------


@pytest.mark.parametrize(
    "text, start",
    [
        (
            "repositories:\n",
            "You cannot specify an empty 'repositories:' section in the "
            "configuration file '{path}'.",
        ),
        (
            "repositories: []\n",
            "You cannot specify an empty 'repositories:' section in the "
            "configuration file '{path}'.",
        ),
        (
            "repositories:\n  - name: a\n    backend: file-system\n",
            "Your repository is missing a 'host' entry: "
            "'{{'name': 'a', 'backend': 'file-system'}}'.",
        ),
        (
            "repositories:\n  - name: a\n",
            "Your repository is missing a 'host' entry: '{{'name': 'a'}}'.",
        ),
        (
            "repositories:\n  - host: h\n    name: a\n",
            "Your repository is missing a 'backend' entry: ",
        ),
    ],
)
def test_configuration_file(tmp_path, text, start):
    path = write_user_config(tmp_path, text)
    result = import_config(tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    # A ValueError as in audmodel 1.5, by its own class; the message is 1.5's.
    prefix = "audmodel.errors.ConfigurationError: "
    assert last.startswith(prefix + start.format(path=path)), last
    assert path in last


def test_sigterm_during_publication_is_a_keyboard_interrupt():
    with pytest.raises(KeyboardInterrupt, match=exactly("Interrupted by SIGTERM.")):
        with _publish._sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the signal arrives before this ends
