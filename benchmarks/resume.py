"""How much of an archive a load reads again after an interrupted one.

Usage::

    .venv/bin/python benchmarks/resume.py [--mib 512] [--files 64]

Publishes a model of ``--files`` incompressible files (``--mib`` in all, as
a sharded checkpoint) to moto and to s3rver on 127.0.0.1, starts a load in
a process of its own, kills it (SIGKILL) once about 70 % of the files are
unpacked, loads again in a new process, and prints how many bytes of the
archive the second load read, as a fraction of the archive. Target: at
most 0.35 (the 30 % not unpacked, and the archive's end).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

from local_s3 import SERVERS
from local_s3 import bucket_on

import audmodel


TARGET = 0.35

# Loads a model; prints the bytes of the archive read, counted where the
# backends hand them over.
LOADER = textwrap.dedent(
    """
    import sys
    import audmodel
    from audmodel.backend._common import RangedReads

    read = [0]
    read_range, stream_range = RangedReads.read_range, RangedReads.stream_range

    def counted_range(self, *args, **kwargs):
        data = read_range(self, *args, **kwargs)
        read[0] += len(data)
        return data

    def counted_stream(self, *args, **kwargs):
        for piece in stream_range(self, *args, **kwargs):
            read[0] += len(piece)
            yield piece

    RangedReads.read_range, RangedReads.stream_range = counted_range, counted_stream
    endpoint, bucket, uid, cache = sys.argv[1:5]
    audmodel.config.REPOSITORIES = [audmodel.Repository(bucket, endpoint, "s3")]
    audmodel.load(uid, cache_root=cache)
    print(read[0])
    """
)


def make_model(root: pathlib.Path, mib: int, files: int) -> None:
    root.mkdir(parents=True)
    size = mib * 1024 * 1024 // files
    for index in range(files):
        (root / f"shard-{index:03d}.bin").write_bytes(os.urandom(size))


def unpacked(journal: pathlib.Path) -> int:
    """Files an interrupted load has unpacked, by its journal's lines.

    A file's line holds its name in quotes; the journal's other lines (its
    first, and those of pieces of large files) do not start with one.
    """
    try:
        lines = journal.read_text().splitlines()
    except OSError:
        return 0
    return sum(line.startswith('"') for line in lines)


def run(server: str, model: pathlib.Path, files: int, work: pathlib.Path) -> float:
    bucket = f"resume-{server}"
    with bucket_on(server, bucket) as endpoint:
        audmodel.config.REPOSITORIES = [audmodel.Repository(bucket, endpoint, "s3")]
        uid = audmodel.publish(str(model), "shards", {"files": files}, "1.0.0")
        archive = sum(p.stat().st_size for p in model.iterdir())
        cache = work / f"cache-{server}"
        short_id, version = uid.split("-", 1)
        journal = cache / short_id / f".staging-{version}-partial.journal"
        script = work / "loader.py"
        script.write_text(LOADER)
        command = [sys.executable, str(script), endpoint, bucket, uid, str(cache)]
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        while unpacked(journal) < 0.7 * files and first.poll() is None:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        done = unpacked(journal)
        second = subprocess.run(command, capture_output=True, text=True, check=True)
        fraction = int(second.stdout) / archive
        print(
            f"{server:7s} killed at {done}/{files} files unpacked; "
            f"the second load read {fraction:.2f} of the archive "
            f"(target: at most {TARGET}) {'met' if fraction <= TARGET else 'MISSED'}"
        )
        return fraction


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        model = work / "model"
        make_model(model, args.mib, args.files)
        fractions = [run(server, model, args.files, work) for server in SERVERS]
    return 0 if all(f <= TARGET for f in fractions) else 1


if __name__ == "__main__":
    sys.exit(main())
