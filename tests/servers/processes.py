"""Starting and stopping the servers the tests talk to, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
import os
import pathlib
import socket
import subprocess
import time
import warnings


TESTS = pathlib.Path(__file__).parents[1]


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


S3RVER = TESTS / "node_modules" / ".bin" / "s3rver"
S3RVER_SETUP = "npm ci --prefix tests"
S3RVER_KEEPALIVE = TESTS / "s3rver_keepalive.js"


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
