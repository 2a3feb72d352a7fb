"""Many processes on one repository and one cache, then a consistency check.

Usage::

    .venv/bin/pip install -e '.[benchmark]'
    .venv/bin/python benchmarks/stress.py [--seconds 60] [--processes 6]

For each of a file-system repository and S3 endpoints (a moto server and
s3rver, both on 127.0.0.1), worker processes run publish, load,
update_meta, set_alias, remove_alias, versions, remove, copy (into a second
repository of the same kind) and remove_cached (pruning the shared cache)
at random for a bounded time. They share one cache and publish, remove and
copy colliding model IDs on purpose. Afterwards both repositories and the
cache are checked: every model has its archive and readable meta, of the
processes that published one model ID at most one more succeeded than
removed it, no claim is left, every alias points to a model that lists it,
:func:`audmodel.check` finds nothing, every cached model folder holds
exactly the files of the archive it was loaded from
(:func:`audmodel.verify_cached`), and no staging entry is left. Printed are
the operations done, the errors by kind (expected ones: losing a race to
publish, copy or remove an ID, or to an alias), and the inconsistencies
found.

"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib

from local_s3 import SERVERS
from local_s3 import server_log
from local_s3 import start_s3

import audmodel


NAMES = ["alpha", "beta", "gamma"]
ALIASES = ["stable", "latest", "candidate"]
EXPECTED = (
    "exists already",
    "being published",
    "in the meantime",
    "does not exist",  # removed by another worker meanwhile
    "point to it",  # a removal refused while an alias points to the model
    "changed while it was copied",  # removed and published anew meanwhile
)
OPERATIONS = [
    *["publish", "load", "load", "meta", "alias", "versions"],
    *["remove", "copy", "prune", "unalias"],
]


def worker(args: argparse.Namespace) -> None:
    """Run random operations until the deadline; print counts as JSON."""
    # Waiting for another process's lock is what this test provokes.
    warnings.simplefilter("ignore", UserWarning)
    repository = audmodel.Repository(args.name, args.host, args.backend)
    copies = audmodel.Repository(f"{args.name}-copies", args.host, args.backend)
    audmodel.config.REPOSITORIES = [repository]
    rng = random.Random(args.worker)
    model = os.path.join(args.work, f"model-{args.worker}")
    os.makedirs(model, exist_ok=True)
    with open(os.path.join(model, "weights.bin"), "wb") as fp:
        fp.write(rng.randbytes(rng.randint(1, 300_000)))
    done: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    published: list[str] = []
    removed: list[str] = []
    messages: dict[str, str] = {}
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        operation = rng.choice(OPERATIONS)
        name = rng.choice(NAMES)
        short_id = audmodel.uid(name, {})
        try:
            if operation == "publish":
                # Few versions, so that workers collide on model IDs.
                version = f"1.0.{rng.randint(0, 30)}"
                uid = audmodel.publish(
                    model, name, {}, version, meta={"by": args.worker}
                )
                published.append(uid)
            else:
                versions = audmodel.versions(short_id)
                if not versions:
                    continue
                uid = f"{short_id}-{rng.choice(versions)}"
                if operation == "load":
                    audmodel.load(rng.choice([uid, short_id]), cache_root=args.cache)
                elif operation == "meta":
                    key = f"worker-{args.worker}"
                    audmodel.update_meta(
                        uid, {key: done["meta"]}, cache_root=args.cache
                    )
                elif operation == "alias":
                    audmodel.set_alias(rng.choice(ALIASES), uid, cache_root=args.cache)
                elif operation == "unalias":
                    audmodel.remove_alias(rng.choice(ALIASES))
                elif operation == "remove":
                    audmodel.remove(uid, cache_root=args.cache)
                    removed.append(uid)
                elif operation == "copy":
                    audmodel.copy(uid, copies, aliases=rng.random() < 0.5)
                elif operation == "prune":
                    audmodel.remove_cached(max_size=0, cache_root=args.cache)
            done[operation] += 1
        except Exception as ex:
            cause = getattr(ex, "exception", None)  # of a BackendError
            text = f"{ex} {cause!r}"
            kind = next((e for e in EXPECTED if e in text), type(ex).__name__)
            errors[f"{operation}: {kind}"] += 1
            if kind not in EXPECTED:
                trace = traceback.format_exc().splitlines()
                trace = [*trace[-8:], text]
                messages.setdefault(f"{operation}: {kind}", "\n".join(trace))
    result = {"done": done, "errors": errors, "published": published}
    print(json.dumps({**result, "removed": removed, "messages": messages}))


def check(repository: audmodel.Repository, cache: str) -> list[str]:
    """Inconsistencies of a repository."""
    audmodel.config.REPOSITORIES = [repository]
    report = audmodel.check(repository)
    with repository.create_backend_interface().backend as backend:
        files = set(backend.ls("/"))
    problems = [
        f"check: {row.problem} {row.uid} ({row.detail}); its files: "
        + ", ".join(sorted(f for f in files if is_file_of(f, row.uid)) or ["none"])
        for row in report.itertuples()
        if not is_stale_entry(row)
    ]
    problems += [f"claim left: {f}" for f in files if ".publishing" in f]
    headers = [f for f in files if f.endswith(".header.yaml")]
    for header in headers:
        short_id, version = os.path.basename(header)[: -len(".header.yaml")].split(
            "-", 1
        )
        uid = f"{short_id}-{version}"
        try:
            info = audmodel.header(uid, cache_root=cache)
            audmodel.meta(uid, cache_root=cache)
            folders = [part for part in info["subgroup"].split(".") if part]
            archive = "/".join(["", *folders, info["name"], short_id, version])
            if f"{archive}/{uid}.zip" not in files:
                problems.append(f"{uid}: archive missing, expected {archive}/{uid}.zip")
            if info["version"] != version:
                problems.append(f"{uid}: header names version {info['version']}")
        except Exception as ex:
            problems.append(f"{uid}: {ex!r}")
    for alias in ALIASES:
        try:
            uid = audmodel.resolve_alias(alias)
        except RuntimeError:
            continue
        if not audmodel.exists(uid):
            problems.append(f"alias {alias} points to missing {uid}")
        elif alias not in audmodel.aliases(uid):
            problems.append(f"alias {alias} not listed by {uid}")
    return problems


def is_file_of(path: str, uid: str) -> bool:
    """Whether a stored path is a file of a model version (archive, header,
    meta or aliases file)."""
    short_id, version = uid.split("-", 1)
    return (
        f"/{short_id}/{version}/" in path or f"/{short_id}.aliases/{version}/" in path
    )


def is_stale_entry(row: object) -> bool:
    """An aliases file that lists an alias pointing elsewhere, and nothing else.

    remove_alias() racing with set_alias() of the same alias can leave such
    an entry (see docs/lifecycle.rst); aliases() ignores it, and
    check(repair=True) rewrites the file.
    """
    return row.problem == "aliases file wrong" and "misses" not in row.detail


def stale_entries(repository: audmodel.Repository) -> int:
    return sum(map(is_stale_entry, audmodel.check(repository).itertuples()))


def check_cache(cache: str) -> list[str]:
    """Inconsistencies of a cache: leftovers and folders unlike their archive."""
    problems = []
    for short_id in os.listdir(cache) if os.path.isdir(cache) else []:
        folder = os.path.join(cache, short_id)
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            if entry.startswith(".staging-") or entry.endswith("~"):
                problems.append(f"staging entry left: {path}")
    report = audmodel.verify_cached(cache_root=cache)
    problems += [
        f"cached {uid}: {path} {problem} ({cached_file_detail(cache, uid, path)})"
        for uid, path, problem in zip(
            report.index, report["path"], report["problem"], strict=True
        )
    ]
    return problems


def cached_file_detail(cache: str, uid: str, path: str) -> str:
    """What the cache's record of a model expects of a file, and what is there."""
    short_id, version = uid.split("-", 1)
    record = os.path.join(cache, short_id, f".{version}.files.json")
    try:
        with open(record) as fp:
            expected = json.load(fp).get(path)
    except (OSError, ValueError):
        expected = None
    found = os.path.join(cache, short_id, version, *path.split("/"))
    try:
        size = os.path.getsize(found)
        with open(found, "rb") as fp:
            crc = zlib.crc32(fp.read())
        there = f"found {size} bytes, CRC-32 {crc}"
    except OSError as ex:
        there = f"found none ({ex.strerror})"
    wanted = (
        f"expected {expected[0]} bytes, CRC-32 {expected[1]}"
        if expected
        else "no record of it"
    )
    return f"{wanted}; {there}; record {record}"


def run(
    label: str, repository: audmodel.Repository, work: str, args: argparse.Namespace
) -> bool:
    cache = os.path.join(work, f"cache-{label}")
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                str(i),
                "--seconds",
                str(args.seconds),
                "--host",
                repository.host,
                "--name",
                repository.name,
                "--backend",
                repository.backend,
                "--cache",
                cache,
                "--work",
                work,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(args.processes)
    ]
    done: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    winners: collections.Counter = collections.Counter()
    removals: collections.Counter = collections.Counter()
    messages: dict[str, str] = {}
    crashed = 0
    for process in processes:
        out, _ = process.communicate(timeout=args.seconds + 600)
        if process.returncode != 0 or not out.strip():
            crashed += 1
            continue
        result = json.loads(out.strip().splitlines()[-1])
        done.update(result["done"])
        errors.update(result["errors"])
        winners.update(result["published"])
        removals.update(result["removed"])
        messages.update(result["messages"])
    copies = audmodel.Repository(
        f"{repository.name}-copies", repository.host, repository.backend
    )
    problems = check(repository, cache)
    problems += [f"copies: {problem}" for problem in check(copies, cache)]
    problems += check_cache(cache)
    # An ID is published by one process, and again only after its removal.
    problems += [
        f"{uid}: published {n} times, removed {removals[uid]} times"
        for uid, n in winners.items()
        if n > removals[uid] + 1
    ]
    contested = sum(errors[k] for k in errors if k.startswith("publish: "))
    print(f"{label}: {args.processes} processes, {args.seconds} s")
    print(f"  IDs published: {len(winners)}, lost races to publish: {contested}")
    print(f"  versions removed: {sum(removals.values())}")
    print(f"  operations done: {sum(done.values())} {dict(sorted(done.items()))}")
    expected = {k: v for k, v in errors.items() if any(e in k for e in EXPECTED)}
    other = {k: v for k, v in errors.items() if k not in expected}
    print(f"  expected errors (lost races): {sum(expected.values())} {expected}")
    print(f"  other errors: {sum(other.values())} {other}")
    for kind, message in messages.items():
        print(f"    {kind}: {message}")
    print(f"  crashed workers: {crashed}")
    stale = stale_entries(repository) + stale_entries(copies)
    print(f"  stale entries of aliases files (harmless): {stale}")
    print(f"  inconsistencies: {len(problems)}")
    for problem in problems:  # each, so that a rare one can be understood
        print(f"    {problem}")
    return not problems and not other and not crashed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--no-s3", action="store_true", help="file system only")
    parser.add_argument(
        "--s3-servers",
        nargs="+",
        choices=SERVERS,
        default=list(SERVERS),
        help="S3-compatible servers to run against (default: all)",
    )
    for name in ["--worker", "--host", "--name", "--backend", "--cache", "--work"]:
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args)
        return 0

    work = tempfile.mkdtemp(prefix="audmodel-stress-")
    servers = []
    clean = True
    try:
        host = os.path.join(work, "repositories")
        os.makedirs(os.path.join(host, "models"))
        os.makedirs(os.path.join(host, "models-copies"))
        repositories = {
            "file-system": audmodel.Repository("models", host, "file-system")
        }
        for name in [] if args.no_s3 else args.s3_servers:
            import boto3

            server, endpoint = start_s3(name)
            servers.append(server)
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            for bucket in ["models", "models-copies"]:
                client.create_bucket(Bucket=bucket)
            repositories[f"s3 on {name}"] = audmodel.Repository(
                "models", endpoint, "s3"
            )
        for label, repository in repositories.items():
            clean = run(label, repository, work, args) and clean
            for server in servers:
                if server.poll() is not None:  # say so, not as audmodel's fault
                    print(
                        f"  a server exited with {server.returncode}; "
                        f"its log: {server_log(server)}"
                    )
                    clean = False
    finally:
        for server in servers:
            server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print("clean" if clean else "NOT CLEAN")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
