"""Repository files are read safely: no YAML in a repository runs code."""

from __future__ import annotations

import pathlib

from helpers import publish
from helpers import stored_path
from helpers import write_stored
import pytest

import audmodel
from audmodel import _yaml


ALIAS_FILE = "/_alias/best/1.0.0/best-1.0.0.alias.yaml"


def exploit(marker: pathlib.Path) -> str:
    return f"!!python/object/apply:os.system ['touch {marker}']\n"


@pytest.mark.parametrize("kind", ["header", "meta"])
def test_python_tags_in_repository_files_run_nothing(
    repository, model_root, tmp_path, kind
):
    uid = publish(model_root)
    marker = tmp_path / "executed"
    path = stored_path(uid, kind)  # resolved before the header is broken
    write_stored(repository, path, exploit(marker).encode())
    with pytest.raises(RuntimeError, match=r"Refusing to read .*not plain data"):
        audmodel.header(uid) if kind == "header" else audmodel.meta(uid)
    assert not marker.exists()


def test_python_tags_in_alias_file_run_nothing(repository, model_root, tmp_path):
    publish(model_root, alias="best")
    marker = tmp_path / "executed"
    write_stored(repository, ALIAS_FILE, exploit(marker).encode())
    with pytest.raises(
        RuntimeError,
        match=r"^Failed to parse alias file: could not determine a constructor",
    ):
        audmodel.resolve_alias("best")
    assert not marker.exists()


def test_python_tags_in_aliases_list_run_nothing(repository, model_root, tmp_path):
    uid = publish(model_root, alias="best")
    marker = tmp_path / "executed"
    short_id = uid.split("-")[0]
    path = f"/_uid/{short_id}.aliases/1.0.0/{short_id}.aliases-1.0.0.yaml"
    write_stored(repository, path, exploit(marker).encode())
    with pytest.raises(RuntimeError, match="Refusing to read"):
        audmodel.aliases(uid)
    assert not marker.exists()


def test_invalid_yaml_in_meta_is_a_clear_error(repository, model_root):
    uid = publish(model_root)
    write_stored(repository, stored_path(uid, "meta"), b"a: [unclosed\n")
    with pytest.raises(
        RuntimeError, match=r"Cannot read the meta of .* not valid YAML"
    ):
        audmodel.meta(uid)


def test_alias_file_without_uid_is_a_clear_error(repository, model_root):
    publish(model_root, alias="best")
    write_stored(repository, ALIAS_FILE, b"something: else\n")
    with pytest.raises(RuntimeError, match="does not name a model"):
        audmodel.resolve_alias("best")


def test_tuples_are_written_as_audmodel_does_and_read_back():
    text = _yaml.dumps({"shape": (1, 2)})
    assert text == "shape: !!python/tuple\n- 1\n- 2\n"
    assert _yaml.loads(text, "test") == {"shape": (1, 2)}


@pytest.mark.parametrize(
    "value",
    [{1, 2}, object(), b"bytes", 1 + 2j, [print], {"a": {(1, 2): 3}}],
    ids=["set", "object", "bytes", "complex", "function", "tuple-key"],
)
def test_values_yaml_cannot_hold_are_refused(value):
    with pytest.raises(RuntimeError, match="Cannot serialize the following object"):
        _yaml.dumps({"value": value})


def test_subclasses_of_plain_types_are_refused():
    import enum

    class Color(enum.IntEnum):
        RED = 1

    with pytest.raises(RuntimeError, match="Color"):
        _yaml.dumps({"color": Color.RED})


def test_non_ascii_is_escaped_like_audmodel():
    assert _yaml.dumps({"data": "ümlaut"}) == 'data: "\\xFCmlaut"\n'
    assert _yaml.loads(_yaml.dumps({"data": "ümlaut"}), "t") == {"data": "ümlaut"}
