"""Start-up: what a fresh interpreter imports for audmodel, and what it leaves out.

Times live in ``benchmarks/startup.py``; here is what makes them: the
libraries a call does not need are not imported.
"""

import concurrent.futures
import json
import subprocess
import sys

from helpers import make_file_system_repository
from helpers import publish
import pytest

import audmodel


HEAVY = [
    "boto3",
    "botocore",
    "minio",
    "dohq_artifactory",
    "artifactory",
    "pandas",
    "starlette",
    "uvicorn",
    "jinja2",
    "model_signing",
    "sigstore",
    "cryptography",
]

# Prints the heavy modules that a snippet imported, and which of
# audbackend, audeer, PyYAML and filelock.
REPORT = """
import json, sys
def loaded(name):
    return name in sys.modules
heavy = [m for m in {heavy} if loaded(m)]
light = [m for m in ["audbackend", "audeer", "oyaml", "filelock"] if loaded(m)]
print(json.dumps({{"heavy": heavy, "light": light}}))
"""


def imported_after(code: str, *args: str) -> dict:
    script = code + REPORT.format(heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_leaves_backend_libraries_and_tables_out():
    found = imported_after("import audmodel")
    assert found == {"heavy": [], "light": []}


def test_help_of_the_command_line_leaves_them_out():
    code = (
        "import contextlib, io, audmodel._cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        audmodel._cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    assert imported_after(code) == {"heavy": [], "light": []}


@pytest.fixture
def cached_model(request, tmp_path, monkeypatch, model_root, cache):
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uid = publish(model_root)
    audmodel.load(uid)
    return uid


def test_cached_load_by_id_needs_no_repository_and_no_backend_library(
    cached_model, cache
):
    code = "import sys, audmodel\naudmodel.load(sys.argv[1], cache_root=sys.argv[2])\n"
    found = imported_after(code, cached_model, cache)
    # No repository is asked, so audbackend and the configuration's
    # backend (S3) are not even imported. The configuration is read (YAML):
    # it may trust keys, and then the model is checked against its signature.
    assert found == {"heavy": [], "light": ["oyaml"]}


def test_backend_library_is_imported_when_its_repository_is_first_opened(
    cached_model, cache
):
    code = (
        "import sys, audmodel\n"
        "repository = audmodel.Repository('models', sys.argv[1], 'file-system')\n"
        "audmodel.config.REPOSITORIES = [repository]\n"
        "audmodel.header(sys.argv[2], cache_root=sys.argv[3] + '-new')\n"
    )
    host = audmodel.config.REPOSITORIES[0].host
    found = imported_after(code, host, cached_model, cache)
    # audbackend's package imports its MinIO client, whatever the backend.
    assert found["heavy"] in ([], ["minio"])
    assert "audbackend" in found["light"]


def test_registry_gives_classes_and_imports_on_lookup():
    code = (
        "import audmodel\n"
        "registry = audmodel.Repository.backend_registry\n"
        "assert sorted(registry) == ['artifactory', 'file-system', 'minio', 's3']\n"
        "assert registry['file-system'].__name__ == 'FileSystem'\n"
    )
    assert imported_after(code)["heavy"] in ([], ["minio"])
    code = (
        "import audmodel\n"
        "classes = dict(audmodel.Repository.backend_registry)\n"
        "assert all(isinstance(c, type) for c in classes.values()), classes\n"
        "import audbackend\n"
        "assert issubclass(classes['s3'], audbackend.backend.Base)\n"
    )
    assert "boto3" in imported_after(code)["heavy"]


def test_stand_in_used_first_by_many_threads_at_once_imports_once(
    tmp_path, monkeypatch
):
    """No thread sees half a module while another imports it."""
    from audmodel import _lazy

    (tmp_path / "slow_module.py").write_text(
        "import time\n"
        "IMPORTS = globals().get('IMPORTS', 0) + 1\n"
        "time.sleep(0.3)\n"
        "READY = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_module", raising=False)
    stand_in = _lazy.module("slow_module")
    assert "slow_module" not in sys.modules
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(lambda _: stand_in.READY, range(8)))
    assert seen == [True] * 8
    assert stand_in.IMPORTS == 1
