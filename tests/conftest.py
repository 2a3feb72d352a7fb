"""Fixtures: every test gets its own cache and repository configuration.

Helpers and test data are in ``helpers.py``; the servers the tests start
(moto, s3rver, the Artifactory emulator, the fault proxy) in ``servers/``.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import filelock
from helpers import ARTIFACTORY_KEY
from helpers import ARTIFACTORY_USER
from helpers import BACKENDS
from helpers import COMPAT
from helpers import S3_ACCESS_KEY
from helpers import S3_SECRET_KEY
from helpers import create_bucket
from helpers import make_artifactory_repository
from helpers import make_bucket_repository
from helpers import make_file_system_repository
import pytest
from servers.artifactory import Emulator
from servers.fault_proxy import FaultProxy
from servers.processes import S3RVER
from servers.processes import S3RVER_SETUP
from servers.processes import S3rver
from servers.processes import free_port
from servers.processes import serve

import audmodel


ROOT = pathlib.Path(__file__).parents[1]


@pytest.fixture(scope="session", autouse=True)
def test_environment(tmp_path_factory):
    """Credentials for the local S3 server only; nothing from the user's files.

    The instance metadata lookup of boto3's credential chain is switched off,
    so that no request leaves this machine.
    """
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith(("AWS_", "MINIO_", "ARTIFACTORY_")):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "MINIO_ACCESS_KEY": S3_ACCESS_KEY,
            "MINIO_SECRET_KEY": S3_SECRET_KEY,
            "MINIO_CONFIG_FILE": str(home / "minio.cfg"),
            "ARTIFACTORY_USERNAME": ARTIFACTORY_USER,
            "ARTIFACTORY_API_KEY": ARTIFACTORY_KEY,
            "DOHQ_ARTIFACTORY_PYTHON_CFG": str(home / "artifactory_python.cfg"),
        }
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """moto's S3 server on 127.0.0.1."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    yield from serve(command, port)


def install_s3rver() -> str | None:
    """Install s3rver from tests/package.json where npm is at hand.

    Returns:
        why s3rver cannot run, or ``None`` if it can

    """
    if shutil.which("node") is None or shutil.which("npm") is None:
        return f"s3rver needs Node.js and npm: install them, then run '{S3RVER_SETUP}'"
    # The test processes (pytest-xdist's workers) install it one at a time.
    with filelock.FileLock(ROOT / "tests" / ".s3rver-install.lock"):
        return _install_s3rver_once()


def _install_s3rver_once() -> str | None:
    if not S3RVER.exists():
        command = [*S3RVER_SETUP.split(), "--no-audit", "--no-fund", "--silent"]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0 or not S3RVER.exists():
            return f"'{S3RVER_SETUP}' failed: {result.stderr.strip()[-200:]}"
    return None


@pytest.fixture(scope="session")
def s3rver(tmp_path_factory, test_environment) -> S3rver:
    reason = install_s3rver()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI has Node.js and installs it
        pytest.skip(reason)
    server = S3rver(
        tmp_path_factory.mktemp("s3rver"),
        tmp_path_factory.getbasetemp() / "s3rver.log",
    )
    server.configure()
    yield server
    server.stop()


@pytest.fixture
def s3rver_endpoint(s3rver) -> str:
    """The URL of s3rver, running."""
    return s3rver.url()


S3_SERVERS = ("moto", "s3rver")


@pytest.fixture(params=S3_SERVERS)
def s3_server(request) -> str:
    """Each S3-compatible server in turn: a test using it runs on both."""
    return request.param


@pytest.fixture
def s3_endpoint(s3_server, request) -> str:
    """The URL of the server :func:`s3_server` names."""
    return request.getfixturevalue(f"{s3_server}_endpoint")


@pytest.fixture(scope="session")
def artifactory_server() -> Emulator:
    """The Artifactory emulator on 127.0.0.1; credentials are required."""
    server = Emulator(
        users={
            ARTIFACTORY_USER: (ARTIFACTORY_KEY, "write"),
            "reader": ("r-key", "read"),
        }
    ).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Point the cache into the test's folder and configure no repository."""
    for name in [
        "CACHE_ROOT",
        "SHARED_CACHE_ROOT",
        "OFFLINE",
        "CACHE_LOCK",
        "SIGNING_KEY",
        "TRUSTED_KEYS",
        "REQUIRE_SIGNATURE",
    ]:
        monkeypatch.delenv(f"AUDMODEL_{name}", raising=False)
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [])
    monkeypatch.setattr(audmodel.config, "SHARED_CACHE_ROOT", None)
    monkeypatch.setattr(audmodel.config, "OFFLINE", False)
    monkeypatch.setattr(audmodel.config, "CACHE_LOCK", "auto")
    monkeypatch.setattr(audmodel.config, "SIGNING_KEY", None)
    monkeypatch.setattr(audmodel.config, "TRUSTED_KEYS", [])
    monkeypatch.setattr(audmodel.config, "REQUIRE_SIGNATURE", False)
    return tmp_path


@pytest.fixture
def cache(tmp_path) -> str:
    return str(tmp_path / "cache")


REPOSITORY_MAKERS = {
    "artifactory": make_artifactory_repository,
    "file-system": make_file_system_repository,
    "minio": make_bucket_repository("minio", "moto"),
    "minio-s3rver": make_bucket_repository("minio", "s3rver"),
    "s3": make_bucket_repository("s3", "moto"),
    "s3-s3rver": make_bucket_repository("s3", "s3rver"),
}


assert sorted(REPOSITORY_MAKERS) == BACKENDS


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def make_repository(backend_name, tmp_path, request):
    """Make fresh, empty repositories of the backend under test."""
    count = itertools.count()

    def make(name: str | None = None) -> audmodel.Repository:
        maker = REPOSITORY_MAKERS[backend_name]
        return maker(request, tmp_path, name or f"models{next(count)}")

    return make


@pytest.fixture
def repository(make_repository, monkeypatch) -> audmodel.Repository:
    """A fresh repository, the only configured one."""
    repo = make_repository()
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repo])
    return repo


@pytest.fixture
def flaky_s3(s3_endpoint, monkeypatch):
    """An S3 repository reached through a proxy that injects faults."""
    proxy = FaultProxy(s3_endpoint)
    bucket = f"flaky-{uuid.uuid4().hex[:12]}"
    create_bucket(s3_endpoint, bucket)
    repository = audmodel.Repository(bucket, proxy.url, "s3")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    yield proxy, repository
    proxy.stop()


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


def pytest_terminal_summary(terminalreporter) -> None:
    """One line at the end: what was skipped, and what enables it."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        parts = [f"{count} because {reason}" for reason, count in reasons.items()]
        total = sum(reasons.values())
        terminalreporter.write_line(f"{total} skipped: " + "; ".join(parts))
