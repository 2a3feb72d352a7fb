"""Local S3-compatible servers for the scripts here: moto and s3rver."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time


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
        command = [str(S3RVER), "-d", folder, "-a", "127.0.0.1", "--silent"]
        command += ["--allow-mismatched-signatures"]
        # s3rver's continuation tokens need OpenSSL 3's legacy provider.
        environment = {**os.environ, "NODE_OPTIONS": "--openssl-legacy-provider"}
    process = subprocess.Popen(
        [*command, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
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
