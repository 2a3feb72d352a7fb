import datetime
import json
import os
import pathlib
import re
import subprocess
import sys
import zlib

from helpers import console_examples
from helpers import run_as_shown
import pytest

import audmodel
from audmodel import _yaml
from audmodel._cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def repository_args(repository: audmodel.Repository) -> list[str]:
    return ["-r", repository.name, repository.host, repository.backend]


def test_publish_and_load_print_id_and_folder(capsys, make_repository, model_root):
    repository = make_repository()
    options = "-p sampling_rate=16000 -p model=cnn10 --subgroup emotion.cnn"
    options += " --alias emotion-production"
    argv = ["publish", model_root, "onnx", "1.0.0", *options.split()]
    status, out, _ = run(capsys, *argv, *repository_args(repository))
    assert status == 0
    uid = out.strip()
    params = {"sampling_rate": 16000, "model": "cnn10"}
    assert uid == audmodel.uid("onnx", params, "1.0.0", subgroup="emotion.cnn")

    argv = ["load", "emotion-production", *repository_args(repository)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    folder = out.strip()
    assert folder == audmodel.load(uid)
    with open(os.path.join(folder, "log", "eval.yaml")) as fp:
        assert fp.read() == "uar: 0.5\n"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("16000", 16000),
        ('"16000"', "16000"),
        ("0.5", 0.5),
        ("cnn10", "cnn10"),
        ("[emodb, msppodcast]", ["emodb", "msppodcast"]),
        ("", None),
    ],
)
def test_parameter_values_are_read_as_yaml(capsys, value, expected):
    status, out, _ = run(capsys, "uid", "onnx", "1.0.0", "-p", f"key={value}")
    assert status == 0
    assert out.strip() == audmodel.uid("onnx", {"key": expected}, "1.0.0")


def test_parameters_from_a_file_are_updated_by_options(capsys, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("model: cnn10\nsampling_rate: 8000\n")
    status, out, _ = run(
        capsys, "uid", "onnx", "--params", str(path), "-p", "sampling_rate=16000"
    )
    assert status == 0
    expected = audmodel.uid("onnx", {"model": "cnn10", "sampling_rate": 16000})
    assert out.strip() == expected


def test_lookups_print_what_the_api_returns(capsys, reference_repository):
    uid = "3e120e8d-2.0.0"
    status, out, _ = run(capsys, "header", uid)
    assert status == 0
    assert _yaml.loads(out, "output") == audmodel.header(uid)
    assert run(capsys, "meta", uid)[1] == _yaml.dumps(audmodel.meta(uid))
    assert run(capsys, "versions", "3e120e8d")[1] == "1.0.0\n2.0.0\n"
    assert run(capsys, "latest-version", "3e120e8d")[1] == "2.0.0\n"
    assert run(capsys, "aliases", uid)[1] == "emotion-production\nemotion-small\n"
    assert run(capsys, "resolve-alias", "emotion-small")[1] == f"{uid}\n"
    assert run(capsys, "name", uid)[1] == "onnx\n"
    assert run(capsys, "date", uid)[1] == "1985-11-18\n"
    assert run(capsys, "url", uid, "--type", "header")[1].strip() == audmodel.url(
        uid, type="header"
    )
    out = run(capsys, "repository", uid)[1]
    assert _yaml.loads(out, "output") == {
        "name": reference_repository.name,
        "host": reference_repository.host,
        "backend": "file-system",
    }


def test_exists_answers_by_exit_status(capsys, reference_repository):
    assert run(capsys, "exists", "3e120e8d-2.0.0") == (0, "true\n", "")
    assert run(capsys, "exists", "3e120e8d-9.0.0") == (1, "false\n", "")


def test_update_meta_merges_a_file_or_replaces(
    capsys, repository, model_root, tmp_path
):
    uid = audmodel.publish(
        model_root, "onnx", {}, "1.0.0", meta={"data": {"emodb": {"version": "1"}}}
    )
    update = tmp_path / "meta.yaml"
    update.write_text("data:\n  emodb:\n    split: test\n")
    status, out, _ = run(capsys, "update-meta", uid, str(update))
    assert status == 0
    merged = {"data": {"emodb": {"version": "1", "split": "test"}}}
    assert _yaml.loads(out, "output") == merged
    assert audmodel.meta(uid) == merged

    status, out, _ = run(capsys, "update-meta", uid, str(update), "--replace")
    assert status == 0
    assert audmodel.meta(uid) == {"data": {"emodb": {"split": "test"}}}


def test_set_alias_moves_the_alias(capsys, repository, model_root):
    first = audmodel.publish(model_root, "onnx", {}, "1.0.0", alias="production")
    second = audmodel.publish(model_root, "onnx", {}, "2.0.0")
    assert run(capsys, "set-alias", "production", second) == (0, "", "")
    assert audmodel.resolve_alias("production") == second
    assert audmodel.aliases(first) == []


def test_publish_takes_author_date_meta_and_compression(
    capsys, repository, model_root, tmp_path
):
    meta = tmp_path / "meta.yaml"
    meta.write_text("data: emodb\n")
    options = "--author tester --date 1985-11-18 --compression 0"
    argv = ["publish", model_root, "onnx", "1.0.0", *options.split()]
    status, out, _ = run(capsys, *argv, "--meta", str(meta))
    assert status == 0
    uid = out.strip()
    assert audmodel.author(uid) == "tester"
    assert audmodel.date(uid) == str(datetime.date(1985, 11, 18))
    assert audmodel.meta(uid) == {"data": "emodb"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["load", "3e120e8d-9.0.0"], "3e120e8d-9.0.0"),
        (["uid", "onnx", "-p", "sampling_rate"], "KEY=VALUE, not 'sampling_rate'"),
        (["uid", "onnx", "-p", "key=[1,"], "parameter 'key'"),
        (["publish", "missing-folder", "onnx", "1.0.0"], "missing-folder"),
        (["publish", ".", "onnx", "one"], "one"),
    ],
)
def test_errors_are_one_line_naming_the_problem(
    capsys, reference_repository, argv, message
):
    status, out, err = run(capsys, *argv)
    assert status == 1
    assert out == ""
    assert err.startswith("audmodel: error: ")
    assert message in err
    assert "Traceback" not in err


def test_params_file_must_hold_a_mapping(capsys, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- a list\n")
    status, _, err = run(capsys, "uid", "onnx", "--params", str(path))
    assert status == 1
    assert f"The params file '{path}' must hold a YAML mapping." in err


@pytest.mark.parametrize(
    "argv",
    [
        ["publish", ".", "onnx", "1.0.0", "--compression", "fast"],
        ["publish", ".", "onnx", "1.0.0", "--date", "18.11.1985"],
        ["url", "3e120e8d-2.0.0", "--type", "archive"],
        [],
    ],
)
def test_wrong_usage_exits_with_status_2(capsys, argv):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage: audmodel" in capsys.readouterr().err


def test_repositories_given_are_searched_in_order(capsys, make_repository, model_root):
    first, second = make_repository(), make_repository()
    uid = audmodel.publish(model_root, "onnx", {}, "1.0.0", repository=second)
    argv = ["repository", uid, *repository_args(first), *repository_args(second)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert _yaml.loads(out, "output")["name"] == second.name


def test_module_runs_as_a_program(reference_repository, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "audmodel",
            "resolve-alias",
            "emotion-small",
            *repository_args(reference_repository),
            "--cache-root",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stdout) == (0, "3e120e8d-2.0.0\n")


def test_command_line_page_runs_as_shown(tmp_path):
    page = pathlib.Path(__file__).parents[1] / "docs" / "cli.rst"
    examples = console_examples(page.read_text())
    assert len(examples) >= 10
    run_as_shown(examples, tmp_path)


# --- finding models -------------------------------------------------------------


@pytest.fixture
def two_models(repository, model_root) -> tuple[str, str]:
    anger = audmodel.publish(
        model_root, "onnx", {"task": "anger", "rate": 16000}, "1.0.0", subgroup="emo"
    )
    joy = audmodel.publish(
        model_root, "onnx", {"task": "joy"}, "1.0.0", subgroup="emo.cnn"
    )
    return anger, joy


def test_ls_prints_one_row_per_model_and_filters(capsys, repository, two_models):
    anger, joy = two_models
    status, out, _ = run(capsys, "ls", *repository_args(repository))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "name",
        "subgroup",
        "version",
        "author",
        "date",
        "repository",
        "parameters",
    ]
    assert lines[2].startswith(anger) and "task=anger rate=16000" in lines[2]
    assert lines[3].startswith(joy) and lines[3].endswith("task=joy")
    argv = ["ls", "-p", "task=joy", "--format", "json", *repository_args(repository)]
    status, out, _ = run(capsys, *argv)
    records = json.loads(out)
    assert [r["uid"] for r in records] == [joy]
    assert records[0]["parameters"] == {"task": "joy"}
    argv = ["ls", "--subgroup", "emo.cnn", "--latest", *repository_args(repository)]
    assert joy in run(capsys, *argv)[1] and anger not in run(capsys, *argv)[1]
    status, out, _ = run(capsys, "ls", "--name", "none", *repository_args(repository))
    assert (status, out) == (0, "(none)\n")


def test_lookup_prints_the_lookup_table(capsys, repository, two_models):
    anger, joy = two_models
    argv = ["lookup", "onnx", "--format", "json", *repository_args(repository)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert json.loads(out) == [
        {"uid": anger, "rate": 16000, "task": "anger"},
        {"uid": joy, "rate": None, "task": "joy"},
    ]
    status, out, _ = run(capsys, "lookup", "onnx", *repository_args(repository))
    assert out.splitlines()[0].split() == ["task", "rate"]  # as published


def test_files_prints_the_files_of_a_model(capsys, repository, two_models):
    anger, _ = two_models
    argv = ["files", anger, "--format", "json", *repository_args(repository)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    records = json.loads(out)
    assert [r["path"] for r in records] == ["log/eval.yaml", "model.onnx", "model.yaml"]
    assert records[2]["size"] == len("layers: 10\n")
    assert records[2]["crc32"] == zlib.crc32(b"layers: 10\n")
    datetime.datetime.fromisoformat(records[2]["modified"])
    status, out, _ = run(capsys, "files", anger, *repository_args(repository))
    assert f"{zlib.crc32(b'layers: 10' + bytes([10])):08x}" in out


# --- the cache ---------------------------------------------------------------------


def test_cache_ls_rm_and_prune(capsys, repository, two_models, monkeypatch):
    anger, joy = two_models
    args = repository_args(repository)
    for uid in two_models:
        run(capsys, "load", uid, *args)
    status, out, _ = run(capsys, "cache", "ls", "--format", "json", *args)
    assert [r["uid"] for r in json.loads(out)] == sorted(two_models)
    # Without a terminal nothing is removed unless --yes is given.
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    status, _, err = run(capsys, "cache", "rm", anger, *args)
    assert status == 1 and "add --yes" in err
    assert run(capsys, "cache", "rm", anger, "--yes", *args)[:2] == (0, f"{anger}\n")
    argv = ["cache", "prune", "--older-than", "30d", "--yes", *args]
    assert run(capsys, *argv)[:2] == (0, "")
    argv = ["cache", "prune", "--max-size", "0", "--yes", *args]
    assert run(capsys, *argv)[:2] == (0, f"{joy}\n")
    assert run(capsys, "cache", "ls", *args)[1] == "(none)\n"


def test_cache_commands_ask_on_a_terminal(capsys, repository, two_models, monkeypatch):
    anger, _ = two_models
    run(capsys, "load", anger, *repository_args(repository))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    argv = ["cache", "rm", anger, *repository_args(repository)]
    assert run(capsys, *argv)[0] == 1
    assert run(capsys, *argv)[:2] == (0, f"{anger}\n")


def test_cache_prune_needs_a_limit(capsys):
    status, _, err = run(capsys, "cache", "prune", "--yes")
    assert status == 1 and "Give --older-than, --max-size or both" in err


@pytest.mark.parametrize(
    "option, message",
    [
        (["--max-size", "5X"], "is not a size such as 50G"),
        (["--older-than", "soon"], "is not a time span"),
    ],
)
def test_cache_prune_refuses_unclear_units(capsys, option, message):
    with pytest.raises(SystemExit):
        main(["cache", "prune", *option])
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, size", [("50G", 50 * 1024**3), ("500M", 500 * 1024**2), ("1.5KiB", 1536)]
)
def test_sizes_in_human_units(text, size):
    from audmodel._cli import _size

    assert _size(text) == size


# --- lifecycle ---------------------------------------------------------------------


def test_remove_and_remove_alias_ask_and_remove(
    capsys, repository, two_models, monkeypatch
):
    anger, _ = two_models
    args = repository_args(repository)
    audmodel.set_alias("angry", anger)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    status, _, err = run(capsys, "remove", anger, *args)
    assert status == 1 and "add --yes" in err
    status, _, err = run(capsys, "remove", anger, "--yes", *args)
    assert status == 1 and "the aliases ['angry'] point to it" in err
    assert run(capsys, "remove-alias", "angry", *args)[0] == 1  # not confirmed
    assert run(capsys, "remove-alias", "angry", "--yes", *args)[:2] == (0, "")
    assert run(capsys, "remove", anger, "--yes", *args)[:2] == (0, "")
    assert not audmodel.exists(anger)


def test_copy_prints_the_copied_aliases(
    capsys, repository, make_repository, two_models
):
    anger, _ = two_models
    audmodel.set_alias("angry", anger)
    production = make_repository("production")
    argv = ["copy", anger, "--aliases", "--to", production.name, production.host]
    status, out, _ = run(
        capsys, *argv, production.backend, *repository_args(repository)
    )
    assert (status, out) == (0, "angry\n")
    assert run(capsys, "exists", anger, *repository_args(production))[0] == 0


def test_check_reports_and_repairs(capsys, repository, two_models, monkeypatch):
    anger, _ = two_models
    args = repository_args(repository)
    assert run(capsys, "check", *args)[:2] == (0, "(none)\n")
    short_id, version = anger.split("-")
    with repository.create_backend_interface().backend as backend:
        backend.remove_file(f"/_uid/{short_id}/{version}/{anger}.header.yaml")
    status, out, _ = run(capsys, "check", "--format", "json", *args)
    assert status == 1
    assert {r["problem"] for r in json.loads(out)} == {
        "archive without header",
        "file without header",
    }
    assert {r["repository"] for r in json.loads(out)} == {repository.name}
    monkeypatch.setattr("audmodel._check.GRACE_PERIOD", datetime.timedelta(0))
    status, out, _ = run(capsys, "check", "--repair", "--yes", *args)
    assert status == 0 and "removed" in out
    assert run(capsys, "check", *args)[:2] == (0, "(none)\n")


def test_cache_verify_exits_1_on_changed_files(capsys, repository, two_models):
    anger, _ = two_models
    args = repository_args(repository)
    folder = run(capsys, "load", anger, *args)[1].strip()
    assert run(capsys, "cache", "verify", *args)[:2] == (0, "(none)\n")
    with open(os.path.join(folder, "model.yaml"), "w") as fp:
        fp.write("changed\n")
    status, out, _ = run(capsys, "cache", "verify", anger, "--format", "json", *args)
    assert status == 1
    assert json.loads(out) == [
        {"uid": anger, "path": "model.yaml", "problem": "changed"}
    ]


def test_control_characters_from_a_repository_never_reach_the_terminal(
    capsys, repository, model_root
):
    escape = "\x1b]0;owned\x07\x1b[2J\x9b31m"
    pathlib.Path(model_root, f"weights{escape}.bin").write_bytes(b"w")
    uid = audmodel.publish(
        model_root, "onnx", {"rate": 16000}, "1.0.0", author=f"Ann{escape}"
    )
    audmodel.update_meta(uid, {"note": f"see{escape}"})
    for argv in (["author", uid], ["ls"], ["files", uid], ["header", uid]):
        status, out, err = run(capsys, *argv, *repository_args(repository))
        assert status == 0, err
        assert "Ann" in out or "weights" in out or argv == ["ls"]
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", out + err), argv
    status, out, _ = run(capsys, "author", uid, *repository_args(repository))
    assert out.strip() == "Ann\\x1b]0;owned\\x07\\x1b[2J\\x9b31m"
    # An error naming such a value, and a warning, are one clean line too.
    status, _, err = run(capsys, "load", f"nothing{escape}")
    assert status != 0 and not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", err)


def test_removing_by_short_id_or_alias_is_refused_and_lists_what_to_remove(
    capsys, repository, model_root
):
    from helpers import publish

    first = publish(model_root)
    second = publish(model_root, "2.0.0", alias="best")
    short_id = first.split("-")[0]
    status, _, err = run(capsys, "remove", short_id, "--yes")
    assert status == 1
    (line,) = err.splitlines()
    assert f"'{short_id}' is a short ID" in line
    assert f"'{first}', '{second}'" in line
    status, _, err = run(capsys, "remove", "best", "--yes")
    assert status == 1 and f"'best' is an alias, of '{second}'" in err
    assert audmodel.versions(short_id) == ["1.0.0", "2.0.0"]  # nothing removed
    with pytest.raises(ValueError, match="is a short ID"):
        audmodel.remove(short_id)


def test_removing_from_the_cache_what_it_does_not_hold_is_an_error(
    capsys, repository, model_root, cache
):
    from helpers import publish

    uid = publish(model_root, alias="best")
    status, _, err = run(capsys, "cache", "rm", "nonsense", "--yes")
    assert status == 1
    assert err.startswith("audmodel: error: 'nonsense' is not in the cache")
    status, _, err = run(capsys, "cache", "rm", "best", "--yes")
    assert status == 1  # not loaded yet
    audmodel.load("best")
    status, out, _ = run(capsys, "cache", "rm", "best", "--yes")
    assert status == 0 and out.split() == [uid]
    assert audmodel.cached().empty
