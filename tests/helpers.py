"""What the tests share: test data, credentials of the local servers, and
helpers that publish, read and plant stored files."""

from __future__ import annotations

import datetime
import doctest
import functools
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import uuid

import boto3

import audmodel


COMPAT = pathlib.Path(__file__).parent / "compat"
# The backends every API test runs against (see REPOSITORY_MAKERS in
# conftest.py), and those of them a test of one property applies to.
BACKENDS = ["artifactory", "file-system", "minio", "minio-s3rver", "s3", "s3-s3rver"]
REMOTE_BACKENDS = [b for b in BACKENDS if b != "file-system"]  # can be unreachable
# s3rver replaces an object's body and metadata one after the other.
ATOMIC_BACKENDS = [b for b in BACKENDS if not b.endswith("-s3rver")]
SOURCES = COMPAT / "reference-sources"
DATE = datetime.date(1985, 11, 18)
# Test credentials of the local S3 servers; s3rver knows only these.
S3_ACCESS_KEY = "S3RVER"
S3_SECRET_KEY = "S3RVER"
ARTIFACTORY_USER = "tester"
ARTIFACTORY_KEY = "test-api-key"


@functools.cache
def raw_client(endpoint: str):
    """A plain boto3 client of the test server."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def create_bucket(endpoint: str, name: str) -> None:
    raw_client(endpoint).create_bucket(Bucket=name)


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


def console_examples(text: str) -> list[tuple[str, str]]:
    """Commands of a page's console blocks, each with the output shown."""
    examples: list[tuple[str, str]] = []
    pattern = r"\.\. code-block:: console\n\n((?:    .*\n|\n)+)"
    for block in re.findall(pattern, text):
        for line in textwrap.dedent(block).strip().splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], ""))
            else:
                command, output = examples[-1]
                examples[-1] = (command, output + line + "\n")
    return examples


def run_as_shown(examples: list[tuple[str, str]], folder: pathlib.Path) -> None:
    """Run shell examples in ``folder`` (the user's home) as a user pastes them.

    ``./my-model`` holds a model file; ``...`` in an output stands for
    anything, as in a doctest.
    """
    (folder / "my-model").mkdir(exist_ok=True)
    (folder / "my-model" / "model.onnx").write_bytes(b"weights")
    (folder / "repositories" / "models").mkdir(parents=True, exist_ok=True)
    # The default cache is ~/audmodel, here a folder in the working
    # directory, which 'python -m' would put first on the module path: an
    # editable install would then import the cache as a namespace package.
    env = {**os.environ, "HOME": str(folder), "PYTHONSAFEPATH": "1"}
    program = f"{shlex.quote(sys.executable)} -m audmodel"
    checker = doctest.OutputChecker()
    for command, expected in examples:
        result = subprocess.run(
            re.sub(r"^audmodel ", f"{program} ", command),
            shell=True,
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        output = result.stdout + result.stderr
        assert checker.check_output(expected, output, doctest.ELLIPSIS), (
            f"$ {command}\nexpected:\n{expected}got:\n{output}"
        )
