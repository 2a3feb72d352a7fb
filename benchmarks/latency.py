"""Time of each public call on a repository 50 ms away, ours against audmodel 1.5.3.

Usage::

    .venv/bin/python benchmarks/latency.py [--delay SECONDS] [--rounds N]
        [--venv FOLDER] [CALL ...]

Starts moto and the Artifactory emulator of the tests, each behind a proxy
on 127.0.0.1 that holds every request for ``--delay`` seconds (0.05: a
laptop against a cloud bucket), publishes a small model with an alias, and
times the calls of ``benchmarks/requests.py`` in a fresh process each (the
call alone, not the start of Python), with an empty cache unless the row
says the model is cached. The same calls are timed with audmodel 1.5.3,
installed into ``--venv`` if missing, where 1.5.3 works on that server: on
S3 through audbackend's MinIO backend, as 1.5.3 reaches S3; not on
Artifactory, which audbackend 3 (required by 1.5.3) does not reach. Prints the
median of ``--rounds`` rounds per call and server, and ours / 1.5.3.

"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import textwrap

import boto3
from calls import CALLS
from local_s3 import start_s3
from reference import reference_python


sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "tests"))
from helpers import ARTIFACTORY_KEY
from helpers import ARTIFACTORY_USER
from servers.artifactory import Emulator
from servers.fault_proxy import FaultProxy


# The same code runs with both libraries: the calls are audmodel 1.5's API.
CHILD = """
import datetime, json, os, sys, time, warnings
warnings.simplefilter("ignore")
import audmodel
name, host, backend, cache, UID, MODEL = sys.argv[1:7]
SHORT = UID.split("-")[0]
audmodel.config.REPOSITORIES = [audmodel.Repository(name, host, backend)]
audmodel.config.CACHE_ROOT = cache

def publish(version, **kwargs):
    return audmodel.publish(
        MODEL, "torch", {{"layers": 10}}, version, author="bench",
        date=datetime.date(2026, 1, 1),
        repository=audmodel.config.REPOSITORIES[0],  # required by 1.5.3
        **kwargs,
    )

{before}
# The backend's library is imported and its client made before the clock
# starts: audmodel 1.5.3 imports its backends with itself.
audmodel.config.REPOSITORIES[0].create_backend_interface()
start = time.perf_counter()
result = {code}
print(json.dumps({{"seconds": time.perf_counter() - start, "result": str(result)}}))
"""


class Library:
    """How to run a child with one of the two libraries on one server."""

    def __init__(self, python: str, repository: tuple, environment: dict | None):
        self.python, self.repository = python, repository
        self.environment = environment

    def run(self, code: str, before: str, cache: str, uid: str, model: str) -> dict:
        source = CHILD.format(code=code, before=textwrap.dedent(before))
        done = subprocess.run(
            [self.python, "-c", source, *self.repository, cache, uid, model],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
            env={**(self.environment or os.environ), "XDG_CACHE_HOME": cache + ".s"},
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        return json.loads(done.stdout.strip().splitlines()[-1])


NEW_VERSIONS = (f"3.{n}.0" for n in itertools.count())  # publish() takes each once


def seconds(library: Library, call: str, uid: str, model: str, rounds: int) -> float:
    """Median time of one call over fresh processes, its cache prepared first."""
    code, before, _ = CALLS[call]
    times = []
    for _ in range(rounds):
        cache = tempfile.mkdtemp(prefix="latency-cache-")
        prepare = f"{before}\n" if before else ""
        if call == "set_alias":  # a model of its own, as in requests.py
            prepare = f"UID = publish('{next(NEW_VERSIONS)}')\n"
        if call == "publish":
            code = f"publish('{next(NEW_VERSIONS)}')"
        times.append(library.run(code, prepare, cache, uid, model)["seconds"])
    return statistics.median(times)


def measure(libraries: dict[str, Library], model: str, rounds: int) -> dict:
    """Seconds per call for each library on one server (None where it fails)."""
    ours = libraries["ours"]
    cache = tempfile.mkdtemp(prefix="latency-cache-")
    uid = ours.run("publish('1.0.0', alias='best')", "", cache, "x-1", model)["result"]
    table: dict[str, dict[str, float | None]] = {}
    for call in selected():
        table[call] = {}
        for name, library in libraries.items():
            try:
                table[call][name] = seconds(library, call, uid, model, rounds)
            except RuntimeError as ex:
                print(f"{name}, {call}: {ex}", file=sys.stderr)
                table[call][name] = None
    return table


def selected() -> list[str]:
    return [c for c in CALLS if not ARGS.calls or any(p in c for p in ARGS.calls)]


def s3_libraries(endpoint: str, reference: str, work: str) -> dict[str, Library]:
    """Ours by the s3 backend, 1.5.3 by audbackend's MinIO backend, as it does."""
    host = endpoint.removeprefix("http://")
    config = os.path.join(work, "minio.cfg")
    with open(config, "w") as fp:
        fp.write(f"[{host}]\nsecure\n")  # no value: plain HTTP
    theirs = {
        **os.environ,
        "MINIO_CONFIG_FILE": config,
        "MINIO_ACCESS_KEY": os.environ["AWS_ACCESS_KEY_ID"],
        "MINIO_SECRET_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    return {
        "ours": Library(sys.executable, ("models", endpoint, "s3"), None),
        "1.5.3": Library(reference, ("models", host, "minio"), theirs),
    }


def main() -> None:
    work = tempfile.mkdtemp(prefix="latency-")
    model = os.path.join(work, "model")
    os.makedirs(model)
    pathlib.Path(model, "model.onnx").write_bytes(os.urandom(64 * 1024))
    pathlib.Path(model, "model.yaml").write_text("layers: 10\n")
    reference = reference_python(ARGS.venv)
    results = {}
    server, endpoint = start_s3("moto")
    try:
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1"
        ).create_bucket(Bucket="models")
        proxy = FaultProxy(endpoint)
        proxy.delay = ARGS.delay
        results["moto"] = measure(
            s3_libraries(proxy.url, reference, work), model, ARGS.rounds
        )
        proxy.stop()
    finally:
        server.terminate()
    os.environ["ARTIFACTORY_USERNAME"] = ARTIFACTORY_USER
    os.environ["ARTIFACTORY_API_KEY"] = ARTIFACTORY_KEY
    users = {ARTIFACTORY_USER: (ARTIFACTORY_KEY, "write")}
    emulator = Emulator(users=users).start()
    try:
        emulator.create_repository("models")
        base, path = emulator.url.rsplit("/", 1)
        proxy = FaultProxy(base)
        proxy.delay = ARGS.delay
        repository = ("models", f"{proxy.url}/{path}", "artifactory")
        # audmodel 1.5.3 requires audbackend 3, which has no Artifactory
        # backend: it cannot reach Artifactory at all.
        libraries = {"ours": Library(sys.executable, repository, None)}
        results["artifactory"] = measure(libraries, model, ARGS.rounds)
        proxy.stop()
    finally:
        emulator.stop()
    report(results)


def report(results: dict) -> None:
    print(f"each request held {ARGS.delay * 1000:.0f} ms; median of {ARGS.rounds}")
    print(f"{'call':28}{'server':>13}{'ours':>9}{'1.5.3':>9}{'ours/1.5.3':>12}")
    for server, table in results.items():
        for call, times in table.items():
            ours, theirs = times["ours"], times.get("1.5.3")
            shown = [_seconds(ours), _seconds(theirs) if "1.5.3" in times else "-"]
            shown = [f"{text:>9}" for text in shown]
            ratio = f"{ours / theirs:12.2f}" if ours and theirs else f"{'-':>12}"
            print(f"{call:28}{server:>13}{''.join(shown)}{ratio}")
    print("1.5.3 on artifactory: none, as audmodel 1.5.3 requires audbackend 3,")
    print("which has no Artifactory backend.")


def _seconds(value: float | None) -> str:
    return "fails" if value is None else f"{value:.2f}s"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calls", nargs="*", help="calls to time (a part of the name)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=3, help="processes per call")
    parser.add_argument(
        "--venv",
        default=os.path.join(tempfile.gettempdir(), "audmodel-1.5.3-venv"),
        help="virtual environment of audmodel 1.5.3, made if missing",
    )
    return parser.parse_args()


ARGS = arguments() if __name__ == "__main__" else None

if __name__ == "__main__":
    main()
