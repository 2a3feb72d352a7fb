"""The public API, run against every backend in conftest.REPOSITORY_MAKERS."""

from __future__ import annotations

import datetime
import inspect
import os
import pathlib

import audbackend
from helpers import DATE
from helpers import backend_files
from helpers import files_below
from helpers import publish
import pytest

import audmodel


# Signatures of audmodel 1.5.3, which user code is written against: names,
# kinds and defaults. publish's 'repository' gained a default (the first
# configured repository), and 'compression' defaults to "auto" (levels 0-9
# keep their meaning). default_cache_root gained 'shared' (as in audb), and
# load gained the keyword-only 'files' (None, its default, loads it all), and
# publish 'signing_key' (None: the setting, by default no signature).
SIGNATURES = {
    "aliases": "(uid, *, cache_root=None, verbose=False)",
    "author": "(uid, *, cache_root=None)",
    "date": "(uid, *, cache_root=None)",
    "default_cache_root": "(shared=False)",
    "exists": "(uid)",
    "header": "(uid, *, cache_root=None, verbose=False)",
    "latest_version": "(uid)",
    "legacy_uid": "(name, params, version, *, subgroup=None, private=False)",
    "load": "(uid, *, files=None, cache_root=None, timeout=14400, verbose=False)",
    "meta": "(uid, *, cache_root=None, verbose=False)",
    "name": "(uid, *, cache_root=None, verbose=False)",
    "parameters": "(uid, *, cache_root=None, verbose=False)",
    "publish": (
        "(root, name, params, version, *, repository=None, alias=None, "
        "author=None, compression='auto', date=None, meta=None, subgroup=None, "
        "tmp_root=None, signing_key=None, verbose=False)"
    ),
    "repository": "(uid, *, cache_root=None)",
    "resolve_alias": "(alias, *, cache_root=None, verbose=False)",
    "set_alias": "(alias, uid, *, cache_root=None, verbose=False)",
    "subgroup": "(uid, *, cache_root=None, verbose=False)",
    "uid": "(name, params, version=None, *, subgroup=None)",
    "update_meta": "(uid, meta, *, replace=False, cache_root=None, verbose=False)",
    "url": "(uid, *, type='model', cache_root=None, verbose=False)",
    "version": "(uid, *, cache_root=None, verbose=False)",
    "versions": "(uid, *, cache_root=None)",
}


@pytest.mark.parametrize("function", sorted(SIGNATURES))
def test_signatures_match_audmodel(function):
    signature = inspect.signature(getattr(audmodel, function))
    bare = signature.replace(
        parameters=[
            p.replace(annotation=p.empty) for p in signature.parameters.values()
        ],
        return_annotation=signature.empty,
    )
    assert str(bare) == SIGNATURES[function]


def test_public_names():
    names = {name for name in dir(audmodel) if not name.startswith("_")}
    assert set(SIGNATURES) | {"config", "Repository"} <= names
    assert audmodel.__all__ == []


# --- publish and read back ---------------------------------------------------


def test_publish_and_read_everything_back(repository, model_root, cache):
    uid = audmodel.publish(
        model_root,
        "torch",
        {"model": "cnn10", "sampling_rate": 16000},
        "1.0.0",
        author="calvin",
        date=datetime.date(2000, 1, 2),
        meta={"data": {"emodb": {"version": "1.1.1"}}},
        subgroup="emotion.cnn",
        alias="emotion-best",
    )
    assert uid == audmodel.uid(
        "torch",
        {"sampling_rate": 16000, "model": "cnn10"},
        "1.0.0",
        subgroup="emotion.cnn",
    )
    short_id = uid.split("-")[0]
    assert audmodel.exists(uid)
    assert audmodel.header(uid) == {
        "author": "calvin",
        "date": datetime.date(2000, 1, 2),
        "name": "torch",
        "parameters": {"model": "cnn10", "sampling_rate": 16000},
        "subgroup": "emotion.cnn",
        "version": "1.0.0",
    }
    assert audmodel.author(uid) == "calvin"
    assert audmodel.date(uid) == "2000-01-02"
    assert audmodel.name(uid) == "torch"
    assert audmodel.parameters(uid) == {"model": "cnn10", "sampling_rate": 16000}
    assert audmodel.subgroup(uid) == "emotion.cnn"
    assert audmodel.version(uid) == "1.0.0"
    assert audmodel.meta(uid) == {"data": {"emodb": {"version": "1.1.1"}}}
    assert audmodel.aliases(uid) == ["emotion-best"]
    assert audmodel.resolve_alias("emotion-best") == uid
    assert audmodel.repository(uid) == repository
    assert audmodel.versions(short_id) == ["1.0.0"]
    assert audmodel.latest_version(uid) == "1.0.0"
    folder = audmodel.load(uid)
    assert folder == os.path.join(cache, short_id, "1.0.0")
    assert files_below(folder) == files_below(model_root)


def test_publish_defaults_author_today_and_first_repository(repository, model_root):
    uid = audmodel.publish(model_root, "torch", {}, "1.0.0")
    assert audmodel.repository(uid) == repository
    assert audmodel.header(uid)["date"] == datetime.date.today()
    assert audmodel.author(uid)  # the user's name
    assert audmodel.subgroup(uid) == ""
    assert audmodel.meta(uid) == {}
    assert audmodel.aliases(uid) == []


def test_publish_to_repository_that_is_not_configured_first(
    make_repository, model_root, monkeypatch
):
    first, second = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    uid = publish(model_root, repository=second)
    assert audmodel.repository(uid) == second
    assert files_below(audmodel.load(uid)) == files_below(model_root)


def test_model_is_owned_by_first_repository_in_order(
    make_repository, model_root, monkeypatch
):
    first, second = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    publish(model_root, repository=second)
    uid = publish(model_root, "2.0.0", repository=first)
    assert audmodel.versions(uid.split("-")[0]) == ["1.0.0", "2.0.0"]
    assert audmodel.repository(uid) == first
    assert audmodel.repository(uid.replace("2.0.0", "1.0.0")) == second


def test_versions_are_sorted_semantically(repository, model_root):
    for version in ["10.0.0", "2.0.0", "2.0.0-rc.1", "1.0.0"]:
        uid = publish(model_root, version)
    short_id = uid.split("-")[0]
    assert audmodel.versions(short_id) == ["1.0.0", "2.0.0", "2.0.0-rc.1", "10.0.0"]
    assert audmodel.versions(uid) == audmodel.versions(short_id)
    assert audmodel.latest_version(short_id) == "10.0.0"
    assert audmodel.load(short_id).endswith("10.0.0")
    assert audmodel.header(short_id)["version"] == "10.0.0"


def test_publish_empty_params_and_compression_levels(repository, model_root):
    for level, version in [(0, "1.0.0"), (9, "2.0.0")]:
        uid = publish(model_root, version, compression=level, params={})
        assert files_below(audmodel.load(uid)) == files_below(model_root)


def test_params_with_nested_data_round_trip(repository, model_root):
    params = {
        "layers": [64, 32],
        "optimizer": {"name": "adam", "lr": 1e-3},
        "pretrained": None,
        "shape": (1, 16000),
        "normalize": True,
        "label": "ümlaut-ß",
    }
    uid = publish(model_root, params=params)
    audmodel.config.CACHE_ROOT += "-other"  # read from the repository again
    assert audmodel.parameters(uid) == params
    assert audmodel.uid("torch", audmodel.parameters(uid), "1.0.0") == uid


def test_publish_tmp_root_is_used_and_left_empty(repository, model_root, tmp_path):
    tmp_root = tmp_path / "tmp"
    publish(model_root, tmp_root=str(tmp_root))
    assert tmp_root.is_dir()
    assert list(tmp_root.iterdir()) == []


# --- publish: refused input -------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"version": "1.0"}, ValueError, "'1.0' is not a valid version"),
        ({"version": "v1.0.0"}, ValueError, "is not a valid version"),
        ({"version": "1.0.0/x"}, ValueError, "is not a valid version"),
        ({"subgroup": "_uid"}, ValueError, "not allowed to set subgroup to '_uid'"),
        ({"subgroup": "_alias"}, ValueError, "not allowed to set subgroup to '_alias'"),
        ({"subgroup": "_uid.x"}, ValueError, "not allowed to set subgroup to '_uid'"),
        ({"subgroup": "a..b"}, ValueError, "'a..b' is not a valid subgroup"),
        ({"subgroup": "a/b"}, ValueError, "is not a valid subgroup"),
        ({"name": "a/b"}, ValueError, "'a/b' is not a valid model name"),
        ({"name": ".."}, ValueError, "is not a valid model name"),
        ({"name": ""}, ValueError, "is not a valid model name"),
        ({"alias": "3e120e8d"}, ValueError, "is not an allowed alias name"),
        ({"alias": "3e120e8d-1.0.0"}, ValueError, "is not an allowed alias name"),
        ({"alias": "a b"}, ValueError, "is not an allowed alias name"),
        ({"alias": ".."}, ValueError, "is not an allowed alias name"),
        ({"compression": 10}, ValueError, "'compression' has to be between 0 and 9"),
        ({"compression": -1}, ValueError, "has to be between 0 and 9"),
        ({"compression": "fast"}, ValueError, "not 'fast'. It may also be 'auto'"),
        ({"compression": 1.0}, ValueError, "not 1.0. It may also be 'auto'"),
        ({"params": ["a"]}, ValueError, "'params' must be a dict"),
        ({"meta": "text"}, ValueError, "'meta' must be a dict or None"),
        (
            {"params": {"fn": print}},
            RuntimeError,
            "(?s)Cannot serialize.*at 'parameters.fn'",
        ),
        (
            {"meta": {"a": {"b": object()}}},
            RuntimeError,
            "(?s)Cannot serialize.*at 'a.b'",
        ),
        (
            {"meta": {"a": [1, {1, 2}]}},
            RuntimeError,
            r"(?s)Cannot serialize.*at 'a\[1\]'",
        ),
        ({"root": "does-not-exist"}, FileNotFoundError, "does-not-exist"),
    ],
)
def test_publish_refuses_bad_input_and_uploads_nothing(
    repository, model_root, kwargs, error, match
):
    arguments = {
        "root": model_root,
        "name": "torch",
        "params": {"model": "cnn10"},
        "version": "1.0.0",
        **kwargs,
    }
    root = arguments.pop("root")
    with pytest.raises(error, match=match):
        audmodel.publish(
            root,
            arguments.pop("name"),
            arguments.pop("params"),
            arguments.pop("version"),
            **arguments,
        )
    with repository.create_backend_interface().backend as backend:
        assert backend.ls("/") == []


def test_publish_refuses_existing_uid(repository, model_root):
    uid = publish(model_root)
    with pytest.raises(
        RuntimeError, match=f"^A model with ID '{uid}' exists already.$"
    ):
        publish(model_root)


def test_publish_refuses_uid_existing_in_target_repository_only(
    make_repository, model_root, monkeypatch
):
    configured, other = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [configured])
    uid = publish(model_root, repository=other)
    with pytest.raises(RuntimeError, match=f"'{uid}' exists already"):
        publish(model_root, repository=other)


def test_publish_without_any_repository(model_root):
    with pytest.raises(ValueError, match="You have to provide a repository"):
        publish(model_root)


def test_publish_with_unknown_backend(model_root, tmp_path):
    repository = audmodel.Repository("models", str(tmp_path), "no-such-backend")
    with pytest.raises(
        ValueError, match="'no-such-backend' is not a registered backend"
    ):
        publish(model_root, repository=repository)


# --- unknown models and aliases ----------------------------------------------


@pytest.mark.parametrize(
    "function",
    [
        "header",
        "meta",
        "load",
        "author",
        "date",
        "name",
        "parameters",
        "subgroup",
        "version",
        "aliases",
        "repository",
        "url",
        "latest_version",
    ],
)
@pytest.mark.parametrize(
    "uid, shown",
    [
        ("00000000-1.0.0", "00000000-1.0.0"),
        ("00000000", "00000000"),
        ("no-such-alias", "no-such-alias"),
        (
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-0000-000000000000",
        ),
    ],
)
def test_unknown_model_raises_runtime_error(repository, function, uid, shown):
    with pytest.raises(
        RuntimeError, match=f"^A model with ID '{shown}' does not exist.$"
    ):
        getattr(audmodel, function)(uid)


def test_unknown_model_answers_without_error(repository):
    assert not audmodel.exists("00000000-1.0.0")
    assert not audmodel.exists("no-such-alias")
    assert audmodel.versions("00000000") == []
    assert audmodel.versions("no-such-alias") == []


def test_unknown_alias(repository):
    message = "^An alias with name 'nope' does not exist.$"
    with pytest.raises(RuntimeError, match=message):
        audmodel.resolve_alias("nope")
    with pytest.raises(RuntimeError, match=r"An alias with name '\.\.' does not exist"):
        audmodel.resolve_alias("..")


def test_unreachable_repository_raises_backend_error(tmp_path, monkeypatch, model_root):
    missing = audmodel.Repository("models", str(tmp_path / "nowhere"), "file-system")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [missing])
    for call in [
        lambda: audmodel.exists("00000000-1.0.0"),
        lambda: audmodel.header("00000000-1.0.0"),
        lambda: audmodel.load("00000000-1.0.0"),
        lambda: audmodel.versions("00000000"),
        lambda: audmodel.resolve_alias("my-alias"),
        lambda: publish(model_root),
    ]:
        with pytest.raises(audbackend.BackendError):
            call()


# --- aliases -----------------------------------------------------------------


def test_set_alias_moves_alias_between_models(repository, model_root):
    first = publish(model_root, "1.0.0", alias="best")
    second = publish(model_root, "2.0.0")
    audmodel.set_alias("stable", first)
    audmodel.set_alias("best", second)
    assert audmodel.resolve_alias("best") == second
    assert audmodel.aliases(first) == ["stable"]
    assert audmodel.aliases(second) == ["best"]
    assert audmodel.load("best") == audmodel.load(second)
    assert audmodel.exists("best")
    assert audmodel.version("best") == "2.0.0"


def test_set_alias_twice_on_same_model_lists_it_once(repository, model_root):
    uid = publish(model_root)
    audmodel.set_alias("best", uid)
    audmodel.set_alias("best", uid)
    assert audmodel.aliases(uid) == ["best"]


def test_set_alias_accepts_alias_and_short_id_as_target(repository, model_root):
    publish(model_root, "1.0.0", alias="old")
    uid = publish(model_root, "2.0.0")
    audmodel.set_alias("new", "old")
    assert audmodel.resolve_alias("new") == uid.replace("2.0.0", "1.0.0")
    audmodel.set_alias("latest", uid.split("-")[0])
    assert audmodel.resolve_alias("latest") == uid


def test_publish_with_taken_alias_moves_it(repository, model_root):
    first = publish(model_root, "1.0.0", alias="best")
    second = publish(model_root, "2.0.0", alias="best")
    assert audmodel.resolve_alias("best") == second
    assert audmodel.aliases(first) == []
    assert audmodel.aliases(second) == ["best"]


def test_alias_moved_to_other_repository_does_not_shadow(
    make_repository, model_root, monkeypatch
):
    first, second = make_repository(), make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    old = publish(model_root, "1.0.0", alias="best", repository=first)
    new = publish(model_root, "2.0.0", repository=second)
    audmodel.set_alias("best", new)
    assert audmodel.resolve_alias("best") == new
    assert audmodel.aliases(old) == []


@pytest.mark.parametrize("alias", ["3e120e8d", "3e120e8d-1.0.0", "a/b", "", "..."])
def test_set_alias_refuses_bad_names(repository, model_root, alias):
    uid = publish(model_root)
    with pytest.raises(ValueError, match="is not an allowed alias name"):
        audmodel.set_alias(alias, uid)


def test_set_alias_on_unknown_model(repository, model_root):
    uid = publish(model_root, alias="best")
    before = sorted(backend_files(repository))
    with pytest.raises(
        RuntimeError, match=r"A model with ID '00000000-1\.0\.0' does not"
    ):
        audmodel.set_alias("best", "00000000-1.0.0")
    # Nothing is left of the attempt: the alias still points where it did.
    assert sorted(backend_files(repository)) == before
    assert audmodel.resolve_alias("best") == uid


# --- meta --------------------------------------------------------------------


def test_update_meta_merges_deeply(repository, model_root):
    uid = publish(model_root, meta={"model": {"lr": 0.1, "opt": "adam"}, "x": 1})
    new = audmodel.update_meta(uid, {"model": {"lr": 0.01, "layers": 10}, "y": [1]})
    expected = {"model": {"lr": 0.01, "opt": "adam", "layers": 10}, "x": 1, "y": [1]}
    assert new == expected
    assert audmodel.meta(uid) == expected


def test_update_meta_replaces(repository, model_root):
    uid = publish(model_root, meta={"a": 1})
    assert audmodel.update_meta(uid, {"b": 2}, replace=True) == {"b": 2}
    assert audmodel.meta(uid) == {"b": 2}


def test_update_meta_of_model_without_meta(repository, model_root):
    uid = publish(model_root)
    assert audmodel.update_meta(uid, {"a": 1}) == {"a": 1}


def test_meta_change_by_someone_else_is_seen(repository, model_root, tmp_path):
    uid = publish(model_root, meta={"a": 1})
    assert audmodel.meta(uid) == {"a": 1}
    # Another user, with another cache, updates the meta.
    audmodel.update_meta(uid, {"a": 2}, cache_root=str(tmp_path / "other-cache"))
    assert audmodel.meta(uid) == {"a": 2}


def test_returned_meta_and_header_are_copies(repository, model_root):
    uid = publish(model_root, meta={"a": {"b": 1}})
    audmodel.meta(uid)["a"]["b"] = 2
    audmodel.header(uid)["parameters"]["model"] = "changed"
    assert audmodel.meta(uid) == {"a": {"b": 1}}
    assert audmodel.parameters(uid)["model"] == "cnn10"


def test_update_meta_refuses_data_yaml_cannot_hold(repository, model_root):
    uid = publish(model_root, meta={"a": 1})
    with pytest.raises(RuntimeError, match="Cannot serialize"):
        audmodel.update_meta(uid, {"a": {1, 2}})
    with pytest.raises(ValueError, match="'meta' must be a dict"):
        audmodel.update_meta(uid, [1])
    assert audmodel.meta(uid) == {"a": 1}


def test_update_meta_on_unknown_model(repository):
    with pytest.raises(RuntimeError, match="does not exist"):
        audmodel.update_meta("00000000-1.0.0", {"a": 1})


# --- url, repository, cache root ---------------------------------------------


def test_url_of_each_type(repository, model_root):
    uid = publish(model_root, subgroup="a.b")
    short_id = uid.split("-")[0]
    folder = str(pathlib.Path(repository.host, repository.name)) + os.sep
    if repository.backend == "file-system":
        prefix = folder + "//"
    elif repository.backend == "artifactory":
        prefix = f"{repository.host}/{repository.name}/"
    else:
        prefix = "/"
    assert audmodel.url(uid) == f"{prefix}a/b/torch/{short_id}/1.0.0/{uid}.zip"
    assert audmodel.url(uid, type="header") == (
        f"{prefix}_uid/{short_id}/1.0.0/{uid}.header.yaml"
    )
    assert (
        audmodel.url(uid, type="meta")
        == f"{prefix}_uid/{short_id}/1.0.0/{uid}.meta.yaml"
    )
    with pytest.raises(ValueError, match="'type' has to be one of"):
        audmodel.url(uid, type="archive")


def test_default_cache_root_follows_config_and_environment(
    repository, model_root, monkeypatch, tmp_path
):
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(tmp_path / "from-config"))
    assert audmodel.default_cache_root() == str(tmp_path / "from-config")
    monkeypatch.setenv("AUDMODEL_CACHE_ROOT", str(tmp_path / "from-env"))
    assert audmodel.default_cache_root() == str(tmp_path / "from-env")
    uid = publish(model_root)
    assert audmodel.load(uid).startswith(str(tmp_path / "from-env"))
    explicit = str(tmp_path / "explicit")
    assert audmodel.load(uid, cache_root=explicit).startswith(explicit)


def test_cache_root_with_tilde_is_expanded(
    repository, model_root, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    uid = publish(model_root)
    folder = audmodel.load(uid, cache_root="~/models")
    assert folder.startswith(str(tmp_path / "home" / "models"))


# --- legacy models -----------------------------------------------------------


def test_legacy_model_is_found_by_its_legacy_id(repository, model_root, tmp_path):
    """Models published before audmodel 1.0 are stored under their legacy ID."""
    legacy = audmodel.legacy_uid("torch", {"a": 1}, "1.0.0")
    interface = repository.create_backend_interface()
    header = tmp_path / "header.yaml"
    header.write_text(
        "author: old\ndate: 2019-01-01\nname: torch\nparameters:\n  a: 1\n"
        "subgroup: ''\nversion: 1.0.0\n"
    )
    meta = tmp_path / "meta.yaml"
    meta.write_text("null\n...\n")
    archive = tmp_path / "archive.zip"
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("weights.bin", b"old weights")
    with interface.backend:
        interface.put_file(str(archive), f"/torch/{legacy}.zip", "1.0.0")
        interface.put_file(str(meta), f"/_uid/{legacy}.meta.yaml", "1.0.0")
        interface.put_file(str(header), f"/_uid/{legacy}.header.yaml", "1.0.0")
    assert audmodel.exists(legacy)
    assert audmodel.versions(legacy) == ["1.0.0"]
    assert audmodel.header(legacy)["author"] == "old"
    folder = audmodel.load(legacy)
    assert files_below(folder) == {"weights.bin": b"old weights"}
    assert audmodel.version(legacy) == "1.0.0"  # now from the cache
    assert audmodel.meta(legacy) == {}


def test_date_is_kept_as_given(repository, model_root):
    uid = publish(model_root, date=DATE)
    assert audmodel.header(uid)["date"] == DATE
