"""Speed and memory of publish and load, as ratios to a plain copy.

Usage::

    .venv/bin/pip install -e '.[benchmark]'
    .venv/bin/python benchmarks/benchmark.py [--rounds 3] [--reference]

Workloads (deterministic):

(a) 2 x 256 MiB float32 normal weights + 50 small YAML files
(b) 5,000 files of 4 KiB, half text, half random
(c) one 512 MiB float32 file

Each runs on a file-system repository and on S3 (a moto server on
127.0.0.1). Figures are the best of the rounds (as ``timeit`` advises:
slower rounds measure what else this shared machine did), taken in one
run, next to what a user would do without audmodel, timed in the same
rounds: on a file system ``cp -r`` of the
folder (for a publication, which is durable, ``cp -r`` followed by
``sync``); on S3 an upload or download of the folder one object per file
with boto3's transfer manager and 8 threads, as MLflow's and Hugging Face's
clients and ``aws s3 cp --recursive`` do. A bare boto3 transfer of the
archive is printed for information. ``--reference`` installs audmodel 1.5.3 into
a separate virtual environment and times its ``meta`` and ``exists`` on the
same repository, and, on the file system and on S3, its cold load of a
model it published with its defaults (deflate level 1) next to ours of the
same model. Peak memory is
measured in child processes publishing and loading a 1 GiB file.

"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import boto3
import boto3.s3.transfer
from local_s3 import start_s3
import numpy as np
from reference import reference_python

import audmodel
from audmodel import _archive


MIB = 1024 * 1024
results: list[tuple[str, bool]] = []


# --- workloads ---------------------------------------------------------------


def float_file(path: str, mib: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fp:
        for _ in range(mib // 64):
            fp.write(rng.standard_normal(16 * MIB, dtype=np.float32).tobytes())


def workload_a(root: str) -> None:
    os.makedirs(f"{root}/config")
    for i in range(2):
        float_file(f"{root}/weights-{i}.bin", 256, seed=i)
    for i in range(50):
        lines = [
            f"layer_{j}:\n  units: {64 * (j + 1)}\n  dropout: 0.{j}\n"
            for j in range(20)
        ]
        with open(f"{root}/config/file-{i:02d}.yaml", "w") as fp:
            fp.write(f"name: block-{i}\n" + "".join(lines))


def workload_b(root: str) -> None:
    rng = np.random.default_rng(2)
    words = ["model", "layer", "weight", "bias", "train", "loss", "epoch", "data"]
    for i in range(5000):
        folder = f"{root}/part-{i // 100:02d}"
        os.makedirs(folder, exist_ok=True)
        if i % 2:
            data = rng.bytes(4096)
        else:
            picks = rng.integers(0, len(words), 1000)
            data = " ".join(words[p] for p in picks).encode()[:4096].ljust(4096, b".")
        with open(f"{folder}/file-{i:04d}.bin", "wb") as fp:
            fp.write(data)


def workload_c(root: str) -> None:
    os.makedirs(root)
    float_file(f"{root}/weights.bin", 512, seed=3)


WORKLOADS = {
    "a": ("2 x 256 MiB float32 + 50 YAML", workload_a),
    "b": ("5,000 files of 4 KiB", workload_b),
    "c": ("one 512 MiB float32 file", workload_c),
}
COPIES = itertools.count()  # numbers the baseline's copies
TARGETS = {  # publish and cold load, as ratios to the baselines
    "file-system": {"a": (1.3, 1.3), "b": (1.0, 1.0), "c": (1.3, 1.3)},
    "s3": {"a": (1.25, 1.1), "b": (0.3, 0.3), "c": (1.25, 1.1)},
}


# --- measuring ---------------------------------------------------------------


def best_times(
    function: Callable[[int], object],
    rounds: int,
    baseline: Callable[[], float] | None = None,
    warm: Callable[[int], object] | None = None,
) -> tuple[float, float]:
    """Best time of ``function`` and of ``baseline``, interleaved by round.

    Each round starts with nothing left to write back, so that one round's
    writes do not slow down the next; interleaving gives the operation and
    its baseline the same conditions of this shared, noisy machine.
    ``warm`` reads the round's input first, as the baseline's input was
    just read: the kernel may have paged out files written minutes ago.
    """
    times, baselines = [], []
    for round_ in range(rounds):
        if baseline is not None:
            baselines.append(baseline())
        if warm is not None:
            warm(round_)
        os.sync()
        start = time.perf_counter()
        function(round_)
        times.append(time.perf_counter() - start)
    return min(times), min(baselines or [0.0])


def read_file(path: str) -> None:
    with open(path, "rb") as fp:
        while fp.read(16 * MIB):
            pass


def per_call(function: Callable[[], object], calls: int) -> float:
    function()  # warm up
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def report(label: str, value: str, target: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("met" if met else "NOT MET")
    print(f"  {label:<26} {value:<38} {target:<22} {verdict}")
    if met is not None:
        results.append((label, met))


def copier(
    src: str, work: str, synced: list[float] | None = None
) -> Callable[[], float]:
    """A timed plain copy of the folder (``cp -r``), the baseline.

    With ``synced``, each copy is followed by ``sync``, and the time of both
    is appended there: the baseline of a durable publication.
    """

    def copy() -> float:
        # Each copy goes to a new folder, as each load goes to a new cache:
        # writing right after a removal is faster or slower by chance here.
        dst = os.path.join(work, f"copy-{next(COPIES)}")
        os.sync()
        start = time.perf_counter()
        subprocess.run(["cp", "-r", src, dst], check=True)
        copied = time.perf_counter() - start
        if synced is not None:
            os.sync()
            synced.append(time.perf_counter() - start)
        return copied

    return copy


# --- one workload on one repository ------------------------------------------


def run(
    key: str,
    src: str,
    repository: audmodel.Repository,
    work: str,
    rounds: int,
    copy: Callable[[], float],
    s3: str | None,
) -> str:
    audmodel.config.REPOSITORIES = [repository]
    uids: dict[int, str] = {}

    def publish(round_: int) -> None:
        uids[round_] = audmodel.publish(
            src,
            "bench",
            {"workload": key, "round": round_},
            "1.0.0",
            repository=repository,
        )

    synced: list[float] = []
    if s3 is None:
        # publish() is durable, so its baseline is cp -r followed by sync.
        copier(src, work, synced)  # warm up
        synced.clear()
        upload = copier(src, work, synced)
        download = copy
    else:
        upload, download = per_file_boto3(s3, repository.name, src)
    publish_time, publish_base = best_times(publish, rounds, upload)
    if s3 is None:
        publish_base = min(synced)
    caches = [
        os.path.join(work, f"cache-{repository.backend}-{i}") for i in range(rounds)
    ]
    load_time, load_base = best_times(
        lambda i: audmodel.load(uids[i], cache_root=caches[i]),
        rounds,
        download,
        None if s3 else lambda i: read_file(audmodel.url(uids[i])),
    )
    uid = uids[0]
    cached = per_call(lambda: audmodel.load(uid, cache_root=caches[0]), 2000)
    meta = per_call(lambda: audmodel.meta(uid, cache_root=caches[0]), 30)
    exists = per_call(lambda: audmodel.exists(uid), 30)

    publish_target, load_target = TARGETS[repository.backend][key]
    if s3 is None:
        publish_base_name, load_base_name = "cp -r + sync", "cp -r"
    else:
        publish_base_name = load_base_name = "boto3 per file"
    report(
        "publish",
        f"{publish_time:.3f} s = {publish_time / publish_base:.2f} x "
        f"{publish_base_name}",
        f"target <= {publish_target} x",
        publish_time / publish_base <= publish_target,
    )
    report(
        "cold load",
        f"{load_time:.3f} s = {load_time / load_base:.2f} x {load_base_name}",
        f"target <= {load_target} x",
        load_time / load_base <= load_target,
    )
    if s3 is None:
        report("publish vs cp -r", f"{publish_time / copy():.2f} x (not durable)")
    else:
        up, down = bare_archive_transfer(s3, repository.name, src, work)
        report("bare archive transfer", f"up {up:.3f} s, down {down:.3f} s")
    report(
        "cached load", f"{cached * 1000:.3f} ms", "target <= 0.05 ms", cached <= 5e-5
    )
    report("meta", f"{meta * 1000:.2f} ms")
    report("exists", f"{exists * 1000:.2f} ms")
    return uid


def per_file_boto3(
    endpoint: str, bucket: str, src: str
) -> tuple[Callable[[], float], Callable[[], float]]:
    """Timed upload and download of the folder, one object per file.

    What MLflow's and Hugging Face's clients and ``aws s3 cp --recursive``
    do: boto3's transfer manager with 8 threads.
    """
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    config = boto3.s3.transfer.TransferConfig(max_concurrency=8)
    files = [
        os.path.relpath(os.path.join(base, name), src)
        for base, _, names in os.walk(src)
        for name in names
    ]
    rounds = {"up": 0, "down": 0}

    def transfer(direction: str) -> float:
        # Round k's download reads what round k's upload wrote.
        prefix = f"per-file/{rounds[direction]}"
        rounds[direction] += 1
        target = f"{src}.down"
        start = time.perf_counter()
        with boto3.s3.transfer.create_transfer_manager(client, config) as manager:
            for name in files:
                key = f"{prefix}/{name}"
                if direction == "up":
                    manager.upload(os.path.join(src, name), bucket, key)
                else:
                    local = os.path.join(target, name)
                    os.makedirs(os.path.dirname(local), exist_ok=True)
                    manager.download(bucket, key, local)
        elapsed = time.perf_counter() - start
        shutil.rmtree(target, ignore_errors=True)
        return elapsed

    return lambda: transfer("up"), lambda: transfer("down")


def bare_archive_transfer(
    endpoint: str, bucket: str, src: str, work: str
) -> tuple[float, float]:
    """One upload and download of the folder's archive with boto3's defaults."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    archive = os.path.join(work, "bare.zip")
    _archive.create(src, archive)
    start = time.perf_counter()
    client.upload_file(archive, bucket, "bare.zip")
    up = time.perf_counter() - start
    start = time.perf_counter()
    client.download_file(bucket, "bare.zip", f"{archive}.down")
    down = time.perf_counter() - start
    for path in (archive, f"{archive}.down"):
        os.remove(path)
    return up, down


def archive_sizes(src: str, work: str) -> None:
    ours = os.path.join(work, "auto.zip")
    deflate1 = os.path.join(work, "deflate1.zip")
    _archive.create(src, ours)
    _archive.create(src, deflate1, 1)
    ratio = os.path.getsize(ours) / os.path.getsize(deflate1)
    report(
        "archive size",
        f"{os.path.getsize(ours) / MIB:.0f} MiB = {ratio:.3f} x deflate-1",
        "target <= 1.10 x",
        ratio <= 1.10,
    )
    os.remove(ours)
    os.remove(deflate1)


# --- audmodel 1.5.3 for comparison -------------------------------------------


REFERENCE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, audmodel
    host, name, uid, cache = sys.argv[1:5]
    audmodel.config.REPOSITORIES = [audmodel.Repository(name, host, "file-system")]
    def per_call(f, n=30):
        f()
        start = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - start) / n
    print(json.dumps({
        "meta": per_call(lambda: audmodel.meta(uid, cache_root=cache)),
        "exists": per_call(lambda: audmodel.exists(uid)),
    }))
    """
)


REFERENCE_LOAD_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time, audmodel
    host, name, backend, src, key, cache = sys.argv[1:7]
    repository = audmodel.Repository(name, host, backend)
    audmodel.config.REPOSITORIES = [repository]
    uid = audmodel.uid("bench-1.5", {"workload": key}, "1.0.0")
    if not audmodel.exists(uid):
        audmodel.publish(
            src, "bench-1.5", {"workload": key}, "1.0.0", repository=repository
        )
    os.sync()
    start = time.perf_counter()
    audmodel.load(uid, cache_root=cache)
    print(json.dumps({"uid": uid, "load": time.perf_counter() - start}))
    """
)


def reference_environment(repository: audmodel.Repository, work: str) -> tuple:
    """Host and environment for audmodel 1.5.3 to reach ``repository``.

    On S3 it goes through audbackend's MinIO backend, which takes a host
    name and port, and a configuration file to speak plain HTTP.
    """
    if repository.backend != "s3":
        return repository.host, None
    host = repository.host.removeprefix("http://")
    config = os.path.join(work, "minio.cfg")
    with open(config, "w") as fp:
        fp.write(f"[{host}]\nsecure\n")  # no value: None, which is plain HTTP
    environment = {
        **os.environ,
        "MINIO_CONFIG_FILE": config,
        "MINIO_ACCESS_KEY": os.environ["AWS_ACCESS_KEY_ID"],
        "MINIO_SECRET_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    return host, environment


def load_of_reference_archives(
    python: str,
    repository: audmodel.Repository,
    src: str,
    key: str,
    work: str,
    rounds: int,
) -> None:
    """Cold loads of a model that audmodel 1.5.3 published with its defaults.

    Each round, audmodel 1.5.3 loads it into a fresh cache, then we do.
    """
    script = os.path.join(work, "reference-load.py")
    with open(script, "w") as fp:
        fp.write(REFERENCE_LOAD_SCRIPT)
    host, environment = reference_environment(repository, work)
    theirs, ours = [], []
    for round_ in range(rounds):
        cache = os.path.join(work, f"reference-load-cache-{round_}")
        arguments = [host, repository.name, repository.backend, src, key, cache]
        output = subprocess.run(
            [python, script, *arguments],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=work,
        ).stdout
        answer = json.loads(output.strip().splitlines()[-1])
        theirs.append(answer["load"])
        os.sync()
        start = time.perf_counter()
        audmodel.load(answer["uid"], cache_root=f"{cache}-ours")
        ours.append(time.perf_counter() - start)
        for folder in (cache, f"{cache}-ours"):
            shutil.rmtree(folder)
    ratio = min(ours) / min(theirs)
    report(
        "load of a 1.5.3 archive",
        f"{min(ours):.3f} s = {ratio:.2f} x audmodel 1.5.3 ({min(theirs):.3f} s)",
        "target <= 0.3 x",
        ratio <= 0.3,
    )


def compare_with_reference(
    python: str, repository: audmodel.Repository, uid: str, work: str
) -> None:
    cache = os.path.join(work, "cache-file-system-0")
    ours = {
        "meta": per_call(lambda: audmodel.meta(uid, cache_root=cache), 30),
        "exists": per_call(lambda: audmodel.exists(uid), 30),
    }
    script = os.path.join(work, "reference.py")
    with open(script, "w") as fp:
        fp.write(REFERENCE_SCRIPT)
    cache = os.path.join(work, "reference-cache")
    output = subprocess.run(
        [python, script, repository.host, repository.name, uid, cache],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = json.loads(output.strip().splitlines()[-1])
    for name in ("meta", "exists"):
        report(
            f"{name} vs audmodel 1.5.3",
            f"{ours[name] * 1000:.2f} ms vs {theirs[name] * 1000:.2f} ms",
            "target <= 1.0 x",
            ours[name] <= theirs[name] * 1.05,  # within noise
        )


# --- memory ------------------------------------------------------------------


MEMORY_SCRIPT = textwrap.dedent(
    """
    import sys, audmodel
    action, host, name, backend, root = sys.argv[1:6]
    repository = audmodel.Repository(name, host, backend)
    audmodel.config.REPOSITORIES = [repository]
    uid = audmodel.uid("memory", {}, "1.0.0")
    if action == "publish":
        audmodel.publish(root, "memory", {}, "1.0.0", repository=repository)
    else:
        audmodel.load(uid, cache_root=root)
    # VmHWM is the peak of this process image; ru_maxrss would include the
    # parent's peak from before exec.
    with open("/proc/self/status") as fp:
        peak = [line for line in fp if line.startswith("VmHWM:")][0]
    print(int(peak.split()[1]) // 1024)
    """
)


def peak_memory(work: str, repositories: list[audmodel.Repository]) -> None:
    src = os.path.join(work, "memory-model")
    os.makedirs(src)
    float_file(os.path.join(src, "weights.bin"), 1024, seed=4)
    script = os.path.join(work, "memory.py")
    with open(script, "w") as fp:
        fp.write(MEMORY_SCRIPT)
    for repository in repositories:
        for action, root in [
            ("publish", src),
            ("load", os.path.join(work, "mem-cache")),
        ]:
            output = subprocess.run(
                [
                    sys.executable,
                    script,
                    action,
                    repository.host,
                    repository.name,
                    repository.backend,
                    root,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            peak = int(output.strip().splitlines()[-1])
            report(
                f"peak memory {action}",
                f"{peak} MiB (1 GiB file, {repository.backend})",
                "target < 200 MiB",
                peak < 200,
            )
        shutil.rmtree(os.path.join(work, "mem-cache"), ignore_errors=True)
    shutil.rmtree(src)


# --- main --------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="abc")
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--no-file-system", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="compare meta, exists and loads of its archives with audmodel 1.5.3",
    )
    parser.add_argument("--work", help="folder for the data (default: a temporary one)")
    parser.add_argument(
        "--reference-venv",
        help="virtual environment of audmodel 1.5.3, made if missing "
        "(default: one in the temporary folder)",
    )
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="audmodel-bench-", dir=args.work)
    server = None
    try:
        host = os.path.join(work, "repositories")
        os.makedirs(os.path.join(host, "models"))
        file_system = audmodel.Repository("models", host, "file-system")
        repositories = [] if args.no_file_system else [file_system]
        s3 = None
        if not args.no_s3:
            server, s3 = start_s3()
            boto3.client("s3", endpoint_url=s3, region_name="us-east-1").create_bucket(
                Bucket="models"
            )
            repositories.append(audmodel.Repository("models", s3, "s3"))
        venv = args.reference_venv or os.path.join(work, "audmodel-1.5.3")
        reference = reference_python(venv) if args.reference else None
        print(
            f"audmodel {audmodel.__version__}, {os.cpu_count()} cores, "
            f"best of {args.rounds} rounds\n"
        )
        for key in args.workloads:
            title, build = WORKLOADS[key]
            src = os.path.join(work, f"workload-{key}")
            build(src)
            copy = copier(src, work)
            print(f"({key}) {title}: cp -r takes {copy():.3f} s")
            archive_sizes(src, work)
            for repository in repositories:
                print(f" {repository.backend} repository")
                endpoint = s3 if repository.backend == "s3" else None
                uid = run(key, src, repository, work, args.rounds, copy, endpoint)
                if reference is not None and repository.backend == "file-system":
                    compare_with_reference(reference, repository, uid, work)
                if reference is not None:
                    load_of_reference_archives(
                        reference, repository, src, key, work, args.rounds
                    )
            shutil.rmtree(src)
            for entry in os.listdir(work):
                if entry.startswith(("cache-", "copy-")):
                    shutil.rmtree(os.path.join(work, entry))
            print()
        if not args.no_memory:
            print("memory")
            peak_memory(work, repositories)
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(work, ignore_errors=True)

    failed = [label for label, met in results if not met]
    print()
    print("all targets met" if not failed else f"targets not met: {len(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
