"""Requests each public call sends to a repository, counted on the wire.

Usage::

    .venv/bin/python benchmarks/requests.py [--show] [CALL ...]

Starts moto and s3rver (behind a proxy on 127.0.0.1 that logs every
request) and the Artifactory emulator of the tests, publishes a small model
with an alias into each, then runs each call below in a fresh process and
counts the requests it sent: with an empty cache, unless the row says the
model is cached. Prints one row per call, one column per server, and the
target of issue "one context per call" beside them. With ``--show`` it
also prints the method and path of every request of each call; naming
calls (or parts of their names, e.g. ``cold``) counts only those.

"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

import boto3
from calls import CALLS
from local_s3 import start_s3


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "tests"))
from helpers import ARTIFACTORY_KEY
from helpers import ARTIFACTORY_USER
from servers.artifactory import Emulator
from servers.fault_proxy import FaultProxy


CHILD = """
import datetime, os, sys, warnings
warnings.simplefilter("ignore")
import audmodel
repository = audmodel.Repository(sys.argv[1], sys.argv[2], sys.argv[3])
audmodel.config.REPOSITORIES = [repository]
audmodel.config.CACHE_ROOT = sys.argv[4]
UID, SHORT, MODEL = sys.argv[5], sys.argv[5].split("-")[0], sys.argv[6]

def publish(version, **kwargs):
    return audmodel.publish(
        MODEL, "torch", {{"layers": 10}}, version, author="bench",
        date=datetime.date(2026, 1, 1), **kwargs,
    )

{code}
"""


def run(code: str, repository: tuple[str, str, str], cache: str, uid: str) -> str:
    model = os.environ["BENCH_MODEL"]
    source = CHILD.format(code=textwrap.dedent(code))
    # What the library learns about a server is kept beside the cache:
    # with a fresh cache, it starts knowing nothing, as a new user does.
    env = {**os.environ, "XDG_CACHE_HOME": cache + ".state"}
    done = subprocess.run(
        [sys.executable, "-c", source, *repository, cache, uid, model],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.strip()


def count(log: list, call: str, repository, uid: str) -> int:
    """Requests of one call in a fresh process, its cache prepared first."""
    code, before, _ = CALLS[call]
    cache = tempfile.mkdtemp(prefix="bench-cache-")
    if before is not None:
        run(before, repository, cache, uid)
    if call == "set_alias":  # a model of its own, as a user's first alias
        uid = run("print(publish('9.9.9'))", repository, cache, uid)
    start = len(log)
    run(code, repository, cache, uid)
    if SHOW:
        print(f"--- {call}")
        for method, path in log[start:]:
            print(f"    {method} {path}")
    return len(log) - start


SHOW = "--show" in sys.argv  # print each call's requests too
ONLY = [a for a in sys.argv[1:] if not a.startswith("--")]  # calls to count


def selected() -> list[str]:
    """The calls named on the command line (a part of the name will do), else all."""
    return [call for call in CALLS if not ONLY or any(part in call for part in ONLY)]


def main() -> None:
    model = tempfile.mkdtemp(prefix="bench-model-")
    pathlib.Path(model, "model.onnx").write_bytes(os.urandom(64 * 1024))
    pathlib.Path(model, "model.yaml").write_text("layers: 10\n")
    os.environ["BENCH_MODEL"] = model
    columns: dict[str, dict[str, int]] = {}
    servers = []
    try:
        for name in ("moto", "s3rver"):
            server, endpoint = start_s3(name)
            servers.append(server)
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            client.create_bucket(Bucket="models")
            proxy = FaultProxy(endpoint)
            columns[name] = measure(proxy.requests, ("models", proxy.url, "s3"))
            proxy.stop()
        users = {ARTIFACTORY_USER: (ARTIFACTORY_KEY, "write")}
        emulator = Emulator(users=users).start()
        os.environ["ARTIFACTORY_USERNAME"] = ARTIFACTORY_USER
        os.environ["ARTIFACTORY_API_KEY"] = ARTIFACTORY_KEY
        emulator.create_repository("models")
        columns["artifactory"] = measure(
            emulator.requests, ("models", emulator.url, "artifactory")
        )
        emulator.stop()
    finally:
        for server in servers:
            server.terminate()
    names = list(columns)
    print(f"{'call':28}" + "".join(f"{n:>13}" for n in names) + f"{'target':>9}")
    for call in selected():
        target = CALLS[call][2]
        row = "".join(f"{columns[n][call]:>13}" for n in names)
        print(f"{call:28}{row}{'<= ' + str(target):>9}")


def measure(log: list, repository: tuple[str, str, str]) -> dict[str, int]:
    cache = tempfile.mkdtemp(prefix="bench-cache-")
    uid = run("print(publish('1.0.0', alias='best'))", repository, cache, "x-1")
    return {call: count(log, call, repository, uid) for call in selected()}


if __name__ == "__main__":
    main()
