"""Configuration read at import from the package and ~/.config/audmodel.yaml."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


def import_config(home, env=None) -> subprocess.CompletedProcess:
    """Import audmodel in a fresh interpreter with the given home folder."""
    code = (
        "import json, audmodel\n"
        "print(json.dumps({'cache_root': audmodel.config.CACHE_ROOT,"
        " 'default': audmodel.default_cache_root(),"
        " 'repositories': [repr(r) for r in audmodel.config.REPOSITORIES]}))"
    )
    environment = {**os.environ, "HOME": str(home), **(env or {})}
    environment.pop("AUDMODEL_CACHE_ROOT", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment
    )


def write_user_config(home, text: str) -> str:
    path = home / ".config" / "audmodel.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return str(path)


def test_defaults_without_user_file(tmp_path):
    result = import_config(tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["cache_root"] == "~/audmodel"
    assert config["repositories"] == [
        "Repository('audmodel-public', 's3.dualstack.eu-north-1.amazonaws.com', 's3')"
    ]


def test_user_file_overrides_defaults(tmp_path):
    write_user_config(
        tmp_path,
        "cache_root: /data/cache\n"
        "repositories:\n"
        "  - name: models\n    host: /data/repos\n    backend: file-system\n"
        "  - name: more\n    host: 1.5\n    backend: file-system\n",
    )
    config = json.loads(import_config(tmp_path).stdout)
    assert config["cache_root"] == "/data/cache"
    assert config["repositories"] == [
        "Repository('models', '/data/repos', 'file-system')",
        "Repository('more', '1.5', 'file-system')",
    ]


def test_user_file_with_cache_root_only_keeps_default_repositories(tmp_path):
    write_user_config(tmp_path, "cache_root: ~/elsewhere\n")
    config = json.loads(import_config(tmp_path).stdout)
    assert config["cache_root"] == "~/elsewhere"
    assert len(config["repositories"]) == 1


def test_environment_variable_wins_over_config(tmp_path):
    write_user_config(tmp_path, "cache_root: /data/cache\n")
    config = json.loads(
        import_config(tmp_path, {"AUDMODEL_CACHE_ROOT": "/from/env"}).stdout
    )
    assert config["cache_root"] == "/data/cache"
    assert config["default"] == "/from/env"


@pytest.mark.parametrize(
    "text, message",
    [
        ("repositories: [\n", "is not valid YAML"),
        ("repositories: []\n", "You cannot specify an empty 'repositories:' section"),
        ("repositories:\n  - name: x\n    host: y\n", "missing a 'backend' entry"),
        ("repositories:\n  - just-a-name\n", "must be a mapping"),
        ("- a\n- b\n", "must hold a mapping"),
        ("cache_root: [a, b]\n", "'cache_root' .* must be a path"),
    ],
)
def test_broken_user_file_names_file_and_entry(tmp_path, text, message):
    path = write_user_config(tmp_path, text)
    result = import_config(tmp_path)
    assert result.returncode != 0
    error = result.stderr[result.stderr.index("ConfigurationError:") :]
    assert path in error
    assert re.search(message, error), error


def test_empty_user_file_is_ignored(tmp_path):
    write_user_config(tmp_path, "")
    assert import_config(tmp_path).returncode == 0


@pytest.mark.parametrize(
    "text, said",
    [
        (
            "repositorys:\n  - name: a\n    host: h\n    backend: file-system\n",
            "has an unknown entry 'repositorys' (line 1). Did you mean 'repositories'?",
        ),
        (
            "cache_root: /c\nofline: true\n",
            "has an unknown entry 'ofline' (line 2). Did you mean 'offline'?",
        ),
        (
            "repositories:\n  - name: a\n    host: h\n    bakend: file-system\n",
            "Your repository is missing a 'backend' entry",  # 1.5's complaint first
        ),
        (
            "repositories:\n  - name: a\n    host: h\n    backend: file-system\n"
            "    bakend: file-system\n",
            "The repository 'a' in '{path}' has an unknown entry 'bakend'. "
            "Did you mean 'backend'?",
        ),
    ],
)
def test_a_misspelled_entry_is_named_with_the_closest_known_one(tmp_path, text, said):
    from audmodel import _config

    path = tmp_path / "audmodel.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        _config.read_config_file(str(path))
    assert said.format(path=path) in str(error.value)
    assert str(path) in str(error.value)


def test_an_unregistered_backend_names_its_file_line_and_the_registered_ones(
    tmp_path,
):
    from audmodel import _config

    path = tmp_path / "audmodel.yaml"
    path.write_text(
        "cache_root: /c\nrepositories:\n  - name: a\n    host: h\n"
        "    backend: filesystem\n"
    )
    (entry,) = _config.read_config_file(str(path))["repositories"]
    repository = _config._configured(entry)  # as config.REPOSITORIES makes them
    with pytest.raises(ValueError) as error:
        repository.create_backend_interface()
    said = str(error.value)
    assert said.startswith(
        "'filesystem' is not a registered backend. "
        f"It is in the configuration file '{path}', line 3. Registered are: "
    )
    # Other tests of this process may have registered more.
    for name in ("artifactory", "file-system", "minio", "s3"):
        assert name in said.split("Registered are: ")[1]
    assert said.endswith("Did you mean 'file-system'?")


def test_signing_settings_come_from_the_file_and_the_environment(tmp_path):
    path = write_user_config(
        tmp_path,
        "signing_key: ~/keys/signing.pem\n"
        "trusted_keys: [/keys/a.pub.pem, /keys/b.pub.pem]\n"
        "require_signature: true\n",
    )
    code = (
        "import json, audmodel._config as c\n"
        "print(json.dumps([c.signing_key(), c.trusted_keys(), c.require_signature()]))"
    )

    def settings(env: dict) -> list:
        environment = {**os.environ, "HOME": str(tmp_path), **env}
        for name in ["SIGNING_KEY", "TRUSTED_KEYS", "REQUIRE_SIGNATURE"]:
            if f"AUDMODEL_{name}" not in env:
                environment.pop(f"AUDMODEL_{name}", None)
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=environment,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert settings({}) == [
        "~/keys/signing.pem",
        ["/keys/a.pub.pem", "/keys/b.pub.pem"],
        True,
    ]
    assert settings(
        {
            "AUDMODEL_SIGNING_KEY": "/other.pem",
            "AUDMODEL_TRUSTED_KEYS": os.pathsep.join(["/c.pem", "/d.pem"]),
            "AUDMODEL_REQUIRE_SIGNATURE": "0",
        }
    ) == ["/other.pem", ["/c.pem", "/d.pem"], False]
    # A wrong value is named with its file.
    with open(path, "w") as fp:
        fp.write("require_signature: maybe\n")
    environment = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment
    )
    assert "the entry 'require_signature'" in done.stderr
    assert path in done.stderr
