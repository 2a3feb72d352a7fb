"""Every error a command meets: one line that says what to do, exit status 1.

Each case runs the real command in a new process, so that a traceback
anywhere on the way (at import, reading the configuration, parsing
arguments) would show.
"""

import os
import socket
import subprocess
import sys

from helpers import make_file_system_repository
from helpers import publish
import pytest

import audmodel


def command(*args: str, home=None, env=None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    if home is not None:
        environment["HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "audmodel", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error line, after checking it is the only output and the status is 1."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("audmodel: error: ")
    return lines[0]


@pytest.fixture
def home(tmp_path):
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


def test_broken_configuration_file(home):
    (home / ".config").mkdir()
    (home / ".config" / "audmodel.yaml").write_text("repositories: 3\n")
    line = one_line_error(command("ls", home=home))
    assert "audmodel.yaml" in line and "must be a list" in line


def test_default_repository_unreachable_says_how_to_configure_ones_own(home):
    # A proxy on a closed port of this machine: no request leaves it.
    proxy = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    line = one_line_error(command("ls", home=home, env=proxy))
    assert "audmodel-public" in line
    assert "~/.config/audmodel.yaml" in line and "-r NAME HOST BACKEND" in line


def test_missing_repository_folder_says_create_it(home, tmp_path, model_root):
    host = str(tmp_path / "nowhere")
    line = one_line_error(
        command(
            "publish",
            model_root,
            "torch",
            "1.0.0",
            "-r",
            "models",
            host,
            "file-system",
            home=home,
        )
    )
    assert "An exception was raised by the backend" not in line
    assert f"Create the folder '{os.path.join(host, 'models')}'" in line


@pytest.mark.parametrize("option", ["-r", "--to"])
def test_unregistered_backend_names_the_registered_ones(home, tmp_path, option):
    args = ["models", str(tmp_path), "file-sys"]
    if option == "-r":
        result = command("ls", "-r", *args, home=home)
    else:
        source = ["-r", "models", str(tmp_path), "file-system"]
        result = command("copy", "abcdef12-1.0.0", "--to", *args, *source, home=home)
    line = one_line_error(result)
    assert "'file-sys' is not a registered backend" in line
    assert "artifactory, file-system, minio, s3" in line


def test_remove_of_aliased_model_names_the_commands(
    request, tmp_path, home, model_root, monkeypatch
):
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uid = publish(model_root, alias="best")
    args = ["-r", "models", repository.host, "file-system"]
    line = one_line_error(command("remove", uid, "--yes", *args, home=home))
    assert "audmodel set-alias" in line and "audmodel remove-alias" in line
    assert "audmodel.set_alias" not in line


def test_bad_host_url(home):
    line = one_line_error(command("ls", "-r", "models", "http://[bad", "s3", home=home))
    assert "not a valid URL" in line


def test_catalog_on_a_port_in_use_says_choose_another(home, tmp_path):
    pytest.importorskip("uvicorn", reason="needs the extra 'ui'")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--port", str(port), "-r", "models", str(tmp_path), "file-system"]
        result = command("ui", *args, home=home)
    line = one_line_error(result)
    assert f"Port {port} on 127.0.0.1 is taken" in line and "--port" in line
    assert result.stdout == ""  # the address is printed only once it listens


def test_check_without_argument_checks_every_configured_repository(
    request, tmp_path, monkeypatch, model_root
):
    first = make_file_system_repository(request, tmp_path, "first")
    second = make_file_system_repository(request, tmp_path, "second")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [first, second])
    publish(model_root)
    # A leftover archive in the second repository.
    stray = os.path.join(second.host, "second", "torch", "0badcafe", "1.0.0")
    os.makedirs(stray)
    with open(os.path.join(stray, "0badcafe-1.0.0.zip"), "wb") as fp:
        fp.write(b"PK\x05\x06" + bytes(18))
    report = audmodel.check()
    assert list(report["repository"]) == ["second"]
    assert list(audmodel.check("second")["repository"]) == ["second"]
    assert audmodel.check("first").empty
    with pytest.raises(ValueError, match=r"'third'.*configured are: 'first', 'second'"):
        audmodel.check("third")


def test_arguments_that_are_not_what_is_expected_are_named_in_one_line(home, tmp_path):
    a_file = tmp_path / "weights.onnx"
    a_file.write_bytes(b"onnx")
    folder = tmp_path / "model"
    folder.mkdir()
    cases = [
        (
            ["publish", str(a_file), "torch", "1.0.0"],
            f"No such file or directory: '{a_file}'. It is a file: a model folder is "
            "expected.",
        ),
        (
            ["publish", str(folder), "torch", "1.0.0", "--params", "nofile.yaml"],
            "--params nofile.yaml: the file does not exist; a YAML file is expected.",
        ),
        (
            ["publish", str(folder), "torch", "1.0.0", "--meta", str(folder)],
            f"--meta {folder}: the file is a folder; a YAML file is expected.",
        ),
    ]
    for argv, said in cases:
        line = one_line_error(command(*argv, home=home))
        assert said in line, line
    # A wrong use of an option is a usage error, as argparse has it.
    result = command("ui", "--port", "99999", home=home)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "audmodel ui: error: argument --port: '99999' is not a port (0 to 65535)"
    )


def test_config_shows_each_setting_and_where_it_comes_from(home, tmp_path):
    (home / ".config").mkdir()
    user_file = home / ".config" / "audmodel.yaml"
    user_file.write_text(
        f"repositories:\n  - name: models\n    host: {tmp_path}\n"
        "    backend: file-system\n"
    )
    result = command(
        "config", home=home, env={"AUDMODEL_OFFLINE": "1", "AUDMODEL_CACHE_ROOT": ""}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "offline: true  # environment variable AUDMODEL_OFFLINE" in lines
    assert f"repositories:  # {user_file}" in lines
    assert f"    host: {tmp_path}" in lines
    assert any(
        line.startswith("cache_root: ~/audmodel  # ")
        and line.endswith("(shipped with audmodel)")
        for line in lines
    )
    assert "cache_lock: auto  # default" in lines


def test_mistyped_commands_aliases_and_versions_get_the_closest_named(
    home, tmp_path, model_root
):
    repository = ["-r", "models", str(tmp_path / "host"), "file-system"]
    (tmp_path / "host" / "models").mkdir(parents=True)
    published = command(
        "publish",
        model_root,
        "torch",
        "1.0.0",
        "--alias",
        "prod-model",
        *repository,
        home=home,
    )
    uid = published.stdout.strip()
    result = command("lod", uid, home=home)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith("Did you mean 'load'?")
    line = one_line_error(command("load", "prod-modle", *repository, home=home))
    assert line.endswith(
        "A model with ID 'prod-modle' does not exist. Did you mean 'prod-model'?"
    )
    short_id = uid.split("-")[0]
    line = one_line_error(command("load", f"{short_id}-3.0.0", *repository, home=home))
    assert line.endswith(
        f"A model with ID '{short_id}-3.0.0' does not exist. Its versions: 1.0.0."
    )


def test_a_mistyped_model_name_or_subgroup_gets_the_closest_named(
    home, tmp_path, model_root
):
    repository = ["-r", "models", str(tmp_path / "host"), "file-system"]
    (tmp_path / "host" / "models").mkdir(parents=True)
    command(
        "publish", model_root, "torch", "1.0.0", "--subgroup", "emotion.cnn",
        *repository, home=home,
    )  # fmt: skip
    for args, said in [
        (["lookup", "trch"], "No model is named 'trch'. Did you mean 'torch'?"),
        (["ls", "--name", "trch"], "No model is named 'trch'. Did you mean 'torch'?"),
        (
            ["ls", "--subgroup", "emotion.cn"],
            "No model is in the subgroup 'emotion.cn'. Did you mean 'emotion.cnn'",
        ),
    ]:
        result = command(*args, *repository, home=home)
        assert result.returncode == 0
        assert result.stdout == "(none)\n"
        assert result.stderr.startswith(f"audmodel: warning: {said}")
        assert result.stderr.count("\n") == 1
    with pytest.warns(UserWarning, match="Did you mean 'torch'"):
        audmodel.config.REPOSITORIES = [
            audmodel.Repository("models", str(tmp_path / "host"), "file-system")
        ]
        assert audmodel.lookup_table("trch").empty


def test_help_says_what_each_option_does_in_words(home):
    uid = command("uid", "--help", home=home).stdout
    assert "--repository" not in uid and "--cache-root" not in uid  # unused
    url = command("url", "--help", home=home).stdout
    assert "which file: the model's archive, its header or its" in url
    load = command("load", "--help", home=home).stdout
    assert "--cache-root FOLDER" in load and "()" not in load
