"""Time and peak memory of readers facing a hostile repository.

Usage::

    .venv/bin/python benchmarks/hostile.py

Plants, in a file-system repository, what anyone with write access could:
a "billion laughs" header (a few hundred bytes of YAML anchors standing for
about two billion values), a header nested 990 levels deep, a 200 MB header, an
archive whose stored entries overlap (it would unpack to about 400 times
its size), an archive whose end record declares 3 million entries, a
sparse archive whose one small entry declares 1.5 GB of compressed data,
an archive entry 1,500 folders deep, and a FIFO in place of a header; and
model cards (READMEs) of 62 KB of tables and of HTML nested 6,000 deep.
Each reader call runs in a fresh process; its wall time and peak memory
(the kernel's maximum resident set size) are printed beside those of the
same call on a sound repository, measured in the same run, and as a ratio
to them. A bound holds where the hostile case costs about what the sound
one does.

"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time


# The files are made as the tests make them.
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "tests"))
from hostile_files import declaring_entries
from hostile_files import deep_archive
from hostile_files import laughs
from hostile_files import overlapping_archive
from hostile_files import write_sparse_archive


TESTS = str(pathlib.Path(__file__).parents[1] / "tests")


CASES = {
    # case: (what is planted, the reader's call)
    "available, sound": ("sound", "audmodel.available()"),
    "available, billion laughs": ("laughs", "audmodel.available()"),
    "available, 990 levels deep": ("deep", "audmodel.available()"),
    "available, FIFO header": ("fifo", "audmodel.available()"),
    "header, sound": ("sound", "audmodel.header(UID)"),
    "header, billion laughs": ("laughs", "audmodel.header(UID)"),
    "header, 200 MB": ("large", "audmodel.header(UID)"),
    "catalog filter, sound": ("sound", "_ui._params(['rate=16000'])"),
    "catalog filter, billion laughs": ("sound", "_ui._params(['x=' + LAUGHS])"),
    "load, sound": ("sound", "audmodel.load(UID)"),
    "load, overlapping entries": ("overlap", "audmodel.load(UID)"),
    "list files, sound": ("sound", "audmodel.files(UID)"),
    "load, sparse 1.5 GB entry": ("sparse", "audmodel.load(UID)"),
    "load, 1,500 folders deep": ("deeppath", "audmodel.load(UID)"),
    "list files, 3 million entries": ("entries", "audmodel.files(UID)"),
    "list files, sparse 1.5 GB entry": ("sparse", "audmodel.files(UID)"),
    "model card, sound": ("sound", "CARD(hostile_files.readme_of_tables(4, 2000))"),
    "model card, 62 KB of tables": ("sound", "CARD(hostile_files.readme_of_tables())"),
    "model card, nested 6,000 deep": ("sound", "CARD(hostile_files.readme_nested())"),
}

CHILD = """
import sys, warnings, zipfile
warnings.simplefilter("ignore")
sys.path.insert(0, {tests!r})
import hostile_files
import audmodel
from audmodel import _ui, _ui_card
def CARD(text):
    entry = zipfile.ZipInfo("README.md")
    entry.file_size = len(text.encode())
    return _ui_card.card(entry, lambda: text.encode())
repository = audmodel.Repository("models", sys.argv[1], "file-system")
audmodel.config.REPOSITORIES = [repository]
audmodel.config.CACHE_ROOT = sys.argv[2]
UID, LAUGHS = sys.argv[3], sys.argv[4]
try:
    {call}
    print("answered")
except Exception as ex:
    print(f"refused: ...{{str(ex)[-70:]}}")
"""


def build(kind: str, root: str) -> tuple[str, str]:
    """A repository with one model, and the planted file; its host and UID.

    Run in a process of its own: a child's peak memory counts its parent's
    at the time it was started, so the measuring process stays small.

    """
    import audmodel

    host = os.path.join(root, kind)
    os.makedirs(os.path.join(host, "models"))
    model = os.path.join(root, f"{kind}-model")
    os.makedirs(model)
    with open(os.path.join(model, "weights.bin"), "wb") as fp:
        fp.write(os.urandom(1024 * 1024))
    audmodel.config.REPOSITORIES = [audmodel.Repository("models", host, "file-system")]
    uid = audmodel.publish(model, "torch", {"rate": 16000}, "1.0.0", author="a")
    short_id, version = uid.split("-", 1)
    folder = os.path.join(host, "models")
    header = os.path.join(folder, "_uid", short_id, version, f"{uid}.header.yaml")
    archive = os.path.join(folder, "torch", short_id, version, f"{uid}.zip")
    if kind == "laughs":
        write(header, laughs(10).encode())
    elif kind == "deep":
        write(header, b"name: torch\nx: " + b"[" * 990 + b"]" * 990 + b"\n")
    elif kind == "large":
        write(header, b"name: torch\n" + (b"# " + b"x" * 1022 + b"\n") * 200_000)
    elif kind == "fifo":
        os.remove(header)
        os.mkfifo(header)
    elif kind == "overlap":
        write(archive, overlapping_archive(1000, os.urandom(400_000)))
    elif kind == "entries":
        write(archive, declaring_entries(3_000_000))
    elif kind == "sparse":
        write_sparse_archive(archive, 1_500_000_000)
    elif kind == "deeppath":
        write(archive, deep_archive(1500))
    return host, uid


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as fp:
        fp.write(data)


def measure(call: str, host: str, uid: str, cache: str) -> tuple[float, float, str]:
    """Wall seconds, peak MiB and outcome of ``call`` in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            *[sys.executable, "-c", CHILD.format(call=call, tests=TESTS)],
            *[host, cache, uid, laughs(10)],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        output = f"exit status {status}: {output}"
    return seconds, usage.ru_maxrss / 1024, output.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", nargs=2, metavar=("KIND", "ROOT"), help="internal")
    args = parser.parse_args()
    if args.build:
        print(*build(*args.build))
        return
    with tempfile.TemporaryDirectory() as root:
        repositories = {}
        for kind in sorted({kind for kind, _ in CASES.values()}):
            command = [sys.executable, __file__, "--build", kind, root]
            output = subprocess.run(command, capture_output=True, text=True, check=True)
            host, uid = output.stdout.split()
            repositories[kind] = host, uid
        print(f"{'case':34} {'time':>8} {'peak':>9} {'vs sound':>16}  outcome")
        baseline: dict[str, tuple[float, float]] = {}
        for case, (kind, call) in CASES.items():
            host, uid = repositories[kind]
            cache = tempfile.mkdtemp(dir=root)
            seconds, peak, outcome = measure(call, host, uid, cache)
            reader = case.split(",")[0]
            if kind == "sound" and reader not in baseline:
                baseline[reader] = seconds, peak
            base_seconds, base_peak = baseline[reader]
            ratio = f"{seconds / base_seconds:.2f}x {peak / base_peak:.2f}x"
            print(f"{case:34} {seconds:7.2f}s {peak:6.0f} MiB {ratio:>16}  {outcome}")
    print(
        "\ntime: wall seconds of a fresh process; peak: its maximum resident "
        "set size; vs sound: time and peak against the same call on a sound "
        "repository"
    )


if __name__ == "__main__":
    main()
