"""Local S3-compatible servers for the scripts here: moto and s3rver."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import boto3


S3RVER = (
    pathlib.Path(__file__).parents[1] / "tests" / "node_modules" / ".bin" / "s3rver"
)
SERVERS = ("moto", "s3rver")


def start_s3(server: str = "moto") -> tuple[subprocess.Popen, str]:
    """Start a server on a free port of 127.0.0.1; return it and its URL.

    ``server`` is ``"moto"`` (moto's server mode) or ``"s3rver"`` (from npm:
    ``npm ci --prefix tests`` installs it). Sets the one pair of credentials
    s3rver knows, which moto takes too, and switches off boto3's instance
    metadata lookup, so that no request leaves this machine.

    Raises:
        FileNotFoundError: if s3rver is asked for and not installed

    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if server == "moto":
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1"]
        environment = None
    elif not S3RVER.exists():
        raise FileNotFoundError("s3rver is not installed: run 'npm ci --prefix tests'")
    else:
        folder = tempfile.mkdtemp(prefix="s3rver-")
        command = [str(S3RVER), "-d", folder, "-a", "127.0.0.1"]
        command += ["--allow-mismatched-signatures"]
        # As the tests run it: s3rver's continuation tokens need OpenSSL 3's
        # legacy provider, and an error of a file-system race that s3rver
        # leaves unhandled would end it; the keep-alive logs it instead and
        # the client retries the request it dropped after a read timeout.
        keepalive = pathlib.Path(__file__).parents[1] / "tests" / "s3rver_keepalive.js"
        options = f"--openssl-legacy-provider --require {keepalive}"
        environment = {**os.environ, "NODE_OPTIONS": options}
        _retry_dropped_requests(port)
    log = open(os.path.join(tempfile.gettempdir(), f"{server}-{port}.log"), "ab")
    process = subprocess.Popen(
        [*command, "-p", str(port)], stdout=log, stderr=log, env=environment
    )
    log.close()
    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    # Only local servers are reached from here, so their credentials win.
    os.environ["AWS_ACCESS_KEY_ID"] = "S3RVER"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "S3RVER"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return process, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def bucket_on(server: str, bucket: str) -> Iterator[str]:
    """A server of :func:`start_s3` with an empty ``bucket``; yields its URL."""
    process, endpoint = start_s3(server)
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        process.terminate()
        process.wait()


def _retry_dropped_requests(port: int) -> None:
    """A read timeout of 10 s for the server, in audbackend's minio.cfg of
    this process and its children, so that a dropped request is retried."""
    config = os.path.join(tempfile.mkdtemp(prefix="minio-cfg-"), "minio.cfg")
    previous = os.environ.get("MINIO_CONFIG_FILE")
    if previous and os.path.exists(previous):
        with open(previous) as fp:
            text = fp.read()
    else:
        text = ""
    with open(config, "w") as fp:
        fp.write(f"{text}\n[127.0.0.1:{port}]\nread_timeout = 10\n")
    os.environ["MINIO_CONFIG_FILE"] = config


def server_log(process: subprocess.Popen) -> str:
    """Where a server's output goes: a file named after it and its port."""
    port = process.args[-1]
    name = "moto" if "moto.server" in process.args else "s3rver"
    return os.path.join(tempfile.gettempdir(), f"{name}-{port}.log")
