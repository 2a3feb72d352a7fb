"""Fixtures: every test gets its own cache and repository configuration."""

from __future__ import annotations

from collections.abc import Iterator
import datetime
import functools
import itertools
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings

from artifactory_emulator import Emulator
import boto3
import pytest

import audmodel


COMPAT = pathlib.Path(__file__).parent / "compat"
# Test credentials of the local S3 servers; s3rver knows only these.
S3_ACCESS_KEY = "S3RVER"
S3_SECRET_KEY = "S3RVER"
SOURCES = COMPAT / "reference-sources"
DATE = datetime.date(1985, 11, 18)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"Server did not listen on port {port} in {seconds} s")


def serve(command: list[str], port: int) -> Iterator[str]:
    """Run a server on 127.0.0.1 for the time of a fixture; yield its URL."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """moto's S3 server on 127.0.0.1."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    yield from serve(command, port)


S3RVER = pathlib.Path(__file__).parent / "node_modules" / ".bin" / "s3rver"
S3RVER_SETUP = "npm ci --prefix tests"
S3RVER_KEEPALIVE = pathlib.Path(__file__).parent / "s3rver_keepalive.js"


class S3rver:
    """s3rver, a small S3 server from npm that stores objects on disk.

    Its quirks are those of many S3-compatible stores: it ignores
    ``If-None-Match``, counts only keys in ``KeyCount``, and checks no
    signatures (``--allow-mismatched-signatures``), but knows one access
    key only, :data:`S3_ACCESS_KEY`. Racing requests on one object now and
    then make it exit; :meth:`url` then starts it again on the same port and
    folder, with a warning, so that one crash does not fail every later test.
    """

    def __init__(self, folder: pathlib.Path, log: pathlib.Path):
        self.port = free_port()
        self.command = [str(S3RVER), "-d", str(folder), "-a", "127.0.0.1"]
        self.command += ["-p", str(self.port), "--allow-mismatched-signatures"]
        # s3rver encrypts continuation tokens with a cipher that OpenSSL 3
        # keeps in its legacy provider; it would exit on an error it leaves
        # unhandled, which S3RVER_KEEPALIVE logs instead.
        options = f"--openssl-legacy-provider --require {S3RVER_KEEPALIVE}"
        self.environment = {**os.environ, "NODE_OPTIONS": options}
        self.log = log
        self.process: subprocess.Popen | None = None

    def url(self) -> str:
        if self.process is not None and self.process.poll() is not None:
            warnings.warn(
                f"s3rver exited with {self.process.returncode} (see {self.log}); "
                "starting it again",
                stacklevel=2,
            )
            self.process = None
        if self.process is None:
            with open(self.log, "ab") as output:
                self.process = subprocess.Popen(
                    self.command, stdout=output, stderr=output, env=self.environment
                )
            wait_for_port(self.port, self.process)
        return f"http://127.0.0.1:{self.port}"

    def configure(self) -> None:
        """Retry a request s3rver dropped (see S3RVER_KEEPALIVE) after 10 s."""
        with open(os.environ["MINIO_CONFIG_FILE"], "a") as fp:
            fp.write(f"[127.0.0.1:{self.port}]\nread_timeout = 10\n")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def s3rver(tmp_path_factory, test_environment) -> S3rver:
    if not S3RVER.exists() or shutil.which("node") is None:
        reason = f"s3rver is not installed: run '{S3RVER_SETUP}' (needs Node.js)"
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


@functools.cache
def raw_client(endpoint: str):
    """A plain boto3 client of the test server."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def create_bucket(endpoint: str, name: str) -> None:
    raw_client(endpoint).create_bucket(Bucket=name)


ARTIFACTORY_USER = "tester"
ARTIFACTORY_KEY = "test-api-key"


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
    monkeypatch.delenv("AUDMODEL_CACHE_ROOT", raising=False)
    monkeypatch.setattr(audmodel.config, "CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [])
    return tmp_path


@pytest.fixture
def cache(tmp_path) -> str:
    return str(tmp_path / "cache")


def make_file_system_repository(request, tmp_path, name) -> audmodel.Repository:
    host = tmp_path / f"host-{name}"
    (host / name).mkdir(parents=True)
    return audmodel.Repository(name, str(host), "file-system")


def make_bucket_repository(backend: str, server: str):
    def make(request, tmp_path, name) -> audmodel.Repository:
        endpoint = request.getfixturevalue(f"{server}_endpoint")
        bucket = f"{name}-{uuid.uuid4().hex[:12]}"  # buckets outlive a test
        create_bucket(endpoint, bucket)
        return audmodel.Repository(bucket, endpoint, backend)

    return make


def make_artifactory_repository(request, tmp_path, name) -> audmodel.Repository:
    server = request.getfixturevalue("artifactory_server")
    repository = f"{name}-{uuid.uuid4().hex[:12]}"
    server.create_repository(repository)
    return audmodel.Repository(repository, server.url, "artifactory")


# Backends the API suite runs against. Each maker creates a fresh, empty
# repository; a further backend adds an entry here.
REPOSITORY_MAKERS = {
    "artifactory": make_artifactory_repository,
    "file-system": make_file_system_repository,
    "minio": make_bucket_repository("minio", "moto"),
    "minio-s3rver": make_bucket_repository("minio", "s3rver"),
    "s3": make_bucket_repository("s3", "moto"),
    "s3-s3rver": make_bucket_repository("s3", "s3rver"),
}


@pytest.fixture(params=sorted(REPOSITORY_MAKERS))
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


def publish(root: str, version: str = "1.0.0", **kwargs) -> str:
    """Publish with fixed name, parameters, author and date."""
    kwargs.setdefault("author", "tester")
    kwargs.setdefault("date", DATE)
    name = kwargs.pop("name", "torch")
    params = kwargs.pop("params", {"model": "cnn10", "sampling_rate": 16000})
    return audmodel.publish(root, name, params, version, **kwargs)


def files_below(root: str) -> dict[str, bytes]:
    """Relative POSIX path -> content of every file below root."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, "rb") as fp:
                found[rel] = fp.read()
    return found


def backend_files(repository: audmodel.Repository) -> list[str]:
    """All stored paths of a repository."""
    with repository.create_backend_interface().backend as backend:
        return backend.ls("/")


def read_stored(repository: audmodel.Repository, path: str) -> bytes:
    """Content of a stored file, by its path on the backend."""
    with repository.create_backend_interface().backend as backend:
        with tempfile.TemporaryDirectory() as tmp:
            local = backend.get_file(path, os.path.join(tmp, "file"))
            return pathlib.Path(local).read_bytes()


def write_stored(repository: audmodel.Repository, path: str, data: bytes) -> None:
    """Replace a stored file, by its path on the backend."""
    with repository.create_backend_interface().backend as backend:
        with tempfile.TemporaryDirectory() as tmp:
            local = pathlib.Path(tmp, os.path.basename(path))
            local.write_bytes(data)
            backend.put_file(str(local), path)


def stored_path(uid: str, kind: str = "model") -> str:
    """A model file's path on the backend, whatever form url() gives it."""
    url = audmodel.url(uid, type=kind)
    if "///" in url:  # file system: '<host>/<name>/' + '/' + path
        return "/" + url.split("///", 1)[1]
    repository = audmodel.repository(uid)
    return url.removeprefix(f"{repository.host}/{repository.name}")


def start_script(
    source: str,
    folder: pathlib.Path,
    repository: audmodel.Repository,
    *args: object,
    **kwargs: object,
) -> subprocess.Popen:
    """Run Python source in a new process, as a user's script would run.

    Its arguments are the repository's host, name and backend, then ``args``.
    """
    script = folder / f"script-{uuid.uuid4().hex}.py"
    script.write_text(source)
    command = [sys.executable, str(script), repository.host, repository.name]
    command += [repository.backend, *map(str, args)]
    return subprocess.Popen(command, text=True, **kwargs)


def backend_class(repository: audmodel.Repository) -> type:
    return audmodel.Repository.backend_registry[repository.backend]
