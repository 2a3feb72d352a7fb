"""Finding models in a repository of 10,000 model versions.

Usage::

    .venv/bin/pip install -e '.[benchmark]'
    .venv/bin/python benchmarks/discovery.py [--ids 1000] [--reference]

Builds a repository of ``--ids`` short IDs x 10 versions (several names
and subgroups, 3-8 parameters each, tiny archives) in audmodel 1.5's layout,
on the file system and on S3 (a moto server on 127.0.0.1), and times
``available()`` of all, ``available(params=...)`` matching 1 %,
``lookup_table`` of one name and ``files`` of one model, cold (empty cache)
and warm (second call; "new process" clears what the process keeps in
memory, so that the index in the cache is read again). Next to them: for
S3, listing the bucket's keys and reading every header with a bare boto3
thread pool (16 threads); with ``--reference``, audmodel 1.5.3 collecting
the same table through its public API (``versions`` and ``header`` of each
model), timed on 100 short IDs and scaled to all. Last, the bytes that
``files`` reads of a 1 GiB archive on S3.

"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile

import boto3
from local_s3 import start_s3

import audmodel
from audmodel import _catalog
from audmodel import _yaml
from audmodel.backend._common import RangedReads


NAMES = ["onnx", "torch", "tflite", "sklearn", "jax"]
SUBGROUPS = ["emotion", "emotion.cnn", "speech.asr", "speech.vad", ""]
TASKS = [f"t{i}" for i in range(100)]  # one task is 1 % of the models
VERSIONS = [f"1.{minor}.0" for minor in range(10)]
TARGETS = {"warm file-system": 1.0, "warm s3": 2.0}


def tiny_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model.yaml", "layers: 3\n")
    return buffer.getvalue()


def repository_files(ids: int) -> dict[str, bytes]:
    """Stored path -> content of every file of the benchmark repository."""
    rng = random.Random(1)
    archive = tiny_archive()
    files = {}
    for index in range(ids):
        name, subgroup = rng.choice(NAMES), rng.choice(SUBGROUPS)
        params = {"task": TASKS[index % len(TASKS)], "index": index}
        for extra in range(rng.randint(1, 6)):
            params[f"p{extra}"] = rng.choice([1, 2.5, "a", [1, 2], True])
        short_id = audmodel.uid(name, params, subgroup=subgroup or None)
        for version in VERSIONS:
            uid = f"{short_id}-{version}"
            header = {
                "author": "bench",
                "date": "2024-01-01",
                "name": name,
                "parameters": params,
                "subgroup": subgroup,
                "version": version,
            }
            folders = "/".join([*[p for p in subgroup.split(".") if p], name])
            files[f"{folders}/{short_id}/{version}/{uid}.zip"] = archive
            files[f"_uid/{short_id}/{version}/{uid}.header.yaml"] = _yaml.dumps(
                header
            ).encode()
            files[f"_uid/{short_id}/{version}/{uid}.meta.yaml"] = b"null\n...\n"
    return files


def write_folder(root: str, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fp:
            fp.write(data)


def write_bucket(client, bucket: str, files: dict[str, bytes]) -> None:
    client.create_bucket(Bucket=bucket)

    def put(item):
        key, data = item
        metadata = {"checksum": hashlib.md5(data).hexdigest(), "owner": "bench"}
        client.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        list(pool.map(put, files.items()))


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def measure(repository: audmodel.Repository, cache: str, label: str) -> dict:
    audmodel.config.REPOSITORIES = [repository]
    shutil.rmtree(cache, ignore_errors=True)
    _catalog._MEMO.clear()
    figures = {}
    figures["available, cold"] = timed(lambda: audmodel.available(cache_root=cache))
    figures["available, warm"] = timed(lambda: audmodel.available(cache_root=cache))
    _catalog._MEMO.clear()
    figures["available, warm (new process)"] = timed(
        lambda: audmodel.available(cache_root=cache)
    )
    table = audmodel.available(params={"task": "t7"}, cache_root=cache)
    assert len(table) == len(VERSIONS) * (ARGS.ids // len(TASKS)), len(table)
    figures["available(params) 1 %, warm"] = timed(
        lambda: audmodel.available(params={"task": "t7"}, cache_root=cache)
    )
    figures["lookup_table of one name, warm"] = timed(
        lambda: audmodel.lookup_table("onnx", cache_root=cache)
    )
    uid = table.index[0]
    figures["files of one model, cold"] = timed(
        lambda: audmodel.files(uid, cache_root=cache + "-files")
    )
    figures["files of one model, warm"] = timed(
        lambda: audmodel.files(uid, cache_root=cache + "-files")
    )
    shutil.rmtree(cache, ignore_errors=True)
    _catalog._MEMO.clear()
    figures["available(params) 1 %, cold"] = timed(
        lambda: audmodel.available(params={"task": "t7"}, cache_root=cache)
    )
    shutil.rmtree(cache, ignore_errors=True)
    _catalog._MEMO.clear()
    figures["lookup_table of one name, cold"] = timed(
        lambda: audmodel.lookup_table("onnx", cache_root=cache)
    )
    print(f"\n{label}:")
    for what, seconds in figures.items():
        print(f"  {what:<34} {seconds:7.3f} s")
    return figures


def bare_boto3(endpoint: str, bucket: str) -> float:
    """List the bucket's keys and read every header, 16 threads."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def run():
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])
        ]
        headers = [k for k in keys if k.endswith(".header.yaml")]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda k: client.get_object(Bucket=bucket, Key=k)["Body"].read(),
                    headers,
                )
            )

    return timed(run)


def bare_listing(endpoint: str, bucket: str) -> float:
    """List the keys below _uid/, which every warm search must list too."""
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    paginator = client.get_paginator("list_objects_v2")
    return timed(lambda: list(paginator.paginate(Bucket=bucket, Prefix="_uid/")))


REFERENCE = textwrap.dedent(
    """
    import sys, time, audmodel
    host, name, backend, cache, count = sys.argv[1:6]
    audmodel.config.REPOSITORIES = [audmodel.Repository(name, host, backend)]
    import os
    ids = sorted(os.listdir(os.path.join(host, name, "_uid")))[: int(count)]
    start = time.perf_counter()
    rows = {}
    for short_id in ids:
        for version in audmodel.versions(short_id):
            uid = f"{short_id}-{version}"
            rows[uid] = audmodel.header(uid, cache_root=cache)
    print(time.perf_counter() - start, len(rows))
    """
)


def reference(folder_host: str, work: str) -> float:
    """audmodel 1.5.3 on 100 short IDs of the file-system repository."""
    venv = os.path.join(work, "audmodel-1.5.3")
    python = os.path.join(venv, "bin", "python")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "audmodel==1.5.3"], check=True
    )
    script = os.path.join(work, "reference.py")
    with open(script, "w") as fp:
        fp.write(REFERENCE)
    count = 100
    out = subprocess.run(
        [
            python,
            script,
            folder_host,
            "models",
            "file-system",
            work + "/ref",
            str(count),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]) * ARGS.ids / count


def large_archive_reads(endpoint: str, work: str) -> int:
    """Bytes ``files`` reads of a model with a 1 GiB archive on S3."""
    root = os.path.join(work, "large")
    os.makedirs(root)
    with open(os.path.join(root, "weights.bin"), "wb") as fp:
        fp.truncate(1024**3)  # zeros, stored as they are
    for index in range(50):
        with open(os.path.join(root, f"config-{index}.yaml"), "w") as fp:
            fp.write(f"index: {index}\n")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="large"
    )
    repository = audmodel.Repository("large", endpoint, "s3")
    audmodel.config.REPOSITORIES = [repository]
    uid = audmodel.publish(root, "large", {}, "1.0.0", compression=0)
    counted = []
    read_range, read_tail = RangedReads.read_range, RangedReads.read_tail

    def count_range(self, *args):
        data = read_range(self, *args)
        counted.append(len(data))
        return data

    def count_tail(self, *args):
        data, size = read_tail(self, *args)
        counted.append(len(data))
        return data, size

    RangedReads.read_range, RangedReads.read_tail = count_range, count_tail
    try:
        table = audmodel.files(uid, cache_root=os.path.join(work, "large-cache"))
    finally:
        RangedReads.read_range, RangedReads.read_tail = read_range, read_tail
    assert table.loc["weights.bin", "size"] == 1024**3
    return sum(counted)


def verdict(value: float, bound: float) -> str:
    return "met" if value <= bound else "NOT met"


def main() -> None:
    work = tempfile.mkdtemp(prefix="audmodel-discovery-")
    server = None
    try:
        started = time.perf_counter()
        files = repository_files(ARGS.ids)
        host = os.path.join(work, "host")
        write_folder(os.path.join(host, "models"), files)
        print(
            f"{ARGS.ids * len(VERSIONS)} model versions, {len(files)} files "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )
        folder = audmodel.Repository("models", host, "file-system")
        fs = measure(folder, os.path.join(work, "cache-fs"), "file system")
        summary = [
            (
                "warm available(), file system",
                fs["available, warm (new process)"],
                f"<= {TARGETS['warm file-system']} s",
                verdict(
                    fs["available, warm (new process)"], TARGETS["warm file-system"]
                ),
            )
        ]
        if not ARGS.no_s3:
            server, endpoint = start_s3()
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            started = time.perf_counter()
            write_bucket(client, "models", files)
            print(f"\nbucket filled in {time.perf_counter() - started:.1f} s")
            bucket = audmodel.Repository("models", endpoint, "s3")
            s3 = measure(bucket, os.path.join(work, "cache-s3"), "S3 (moto)")
            bare = bare_boto3(endpoint, "models")
            ratio = s3["available, cold"] / bare
            print(f"  {'bare boto3: list + read headers':<34} {bare:7.3f} s")
            floor = bare_listing(endpoint, "models")
            print(f"  {'bare boto3: list _uid/ only':<34} {floor:7.3f} s")
            summary += [
                (
                    "warm available(), S3",
                    s3["available, warm (new process)"],
                    f"<= {TARGETS['warm s3']} s",
                    verdict(s3["available, warm (new process)"], TARGETS["warm s3"]),
                ),
                (
                    "cold available(), S3 / bare boto3",
                    ratio,
                    "<= 3x",
                    verdict(ratio, 3.0),
                ),
            ]
            read = large_archive_reads(endpoint, work)
            summary.append(
                (
                    "files() of a 1 GiB archive, bytes read",
                    read,
                    "< 1 MiB",
                    verdict(read, 1024**2 - 1),
                )
            )
        if ARGS.reference:
            seconds = reference(host, work)
            print(
                f"\naudmodel 1.5.3, versions() + header() of every model "
                f"(scaled from 100 IDs): {seconds:.1f} s, "
                f"{seconds / fs['available, cold']:.0f}x our cold available()"
            )
        print("\nsummary:")
        for what, value, target, result in summary:
            shown = f"{value:.3f}" if isinstance(value, float) else f"{value:,}"
            print(f"  {what:<42} {shown:>12}  target {target:<8} {result}")
    finally:
        if server is not None:
            server.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ids", type=int, default=1000, help="short IDs (x 10 versions)"
    )
    parser.add_argument("--no-s3", action="store_true", help="file system only")
    parser.add_argument("--reference", action="store_true", help="time audmodel 1.5.3")
    ARGS = parser.parse_args()
    main()
