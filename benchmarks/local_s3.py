"""A local S3-compatible server (moto's server mode) for the scripts here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time


def start_s3() -> tuple[subprocess.Popen, str]:
    """Start a moto server on a free port of 127.0.0.1; return it and its URL.

    Sets test credentials unless some are set, and switches off boto3's
    instance metadata lookup, so that no request leaves this machine.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return process, f"http://127.0.0.1:{port}"
