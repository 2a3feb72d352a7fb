"""Start-up: how long a fresh interpreter takes to import, answer and load.

Usage::

    .venv/bin/python benchmarks/startup.py [--runs 10] [--reference-venv DIR]

Every figure is the median of ``--runs`` runs of a whole process, each run
of ours paired with one of audmodel 1.5.3 (installed into a virtual
environment of its own, made if missing), so that a ratio is taken pair by
pair on this shared machine. Targets:

* ``import audmodel``; ``audmodel --help``, ``audmodel load --help`` and
  ``audmodel uid ...``: at most 0.3 times audmodel 1.5.3's import;
* a load of a model already in the cache, by its full ID, from a fresh
  interpreter (``audmodel.load`` and ``audmodel load``): at most 0.5 times
  the same load with audmodel 1.5.3.

Then, for information, what the first use of each backend adds to an
import (its library and, for all, audbackend's): the median over the
runs of the time to look up the backend's class, less ``import audmodel``.
``python -c pass`` is printed as the floor under all of them.

"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from reference import VERSION
from reference import reference_python


HERE = os.path.dirname(os.path.abspath(__file__))


def timed(command: list[str], environment: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def paired(
    ours: list[str], theirs: list[str], runs: int, environment: dict[str, str]
) -> tuple[float, float, float]:
    """Median seconds of each command and the median of their pairwise ratios."""
    timed(ours, environment)  # warm the file cache
    timed(theirs, environment)
    a, b = [], []
    for _ in range(runs):
        a.append(timed(ours, environment))
        b.append(timed(theirs, environment))
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def report(what: str, figures: tuple[float, float, float], target: float) -> bool:
    ours, theirs, ratio = figures
    met = ratio <= target
    print(
        f"{what:<44} {ours:6.3f} s  {ratio:4.2f} x audmodel {VERSION} "
        f"({theirs:.3f} s)  target <= {target} x: {'met' if met else 'MISSED'}"
    )
    return met


def prepare(work: str) -> tuple[str, str, str]:
    """A file-system repository with one model, loaded into a cache."""
    import audmodel

    host = os.path.join(work, "repositories")
    os.makedirs(os.path.join(host, "models"))
    folder = os.path.join(work, "model")
    os.makedirs(folder)
    with open(os.path.join(folder, "model.yaml"), "w") as fp:
        fp.write("layers: 10\n")
    repository = audmodel.Repository("models", host, "file-system")
    audmodel.config.REPOSITORIES = [repository]
    uid = audmodel.publish(folder, "startup", {"layers": 10}, "1.0.0")
    cache = os.path.join(work, "cache")
    audmodel.load(uid, cache_root=cache)
    return host, uid, cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--reference-venv",
        help=f"virtual environment of audmodel {VERSION}, made if missing "
        "(default: a temporary one)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        home = os.path.join(work, "home")  # no user configuration on either side
        os.makedirs(home)
        environment = {**os.environ, "HOME": home}
        environment.pop("AUDMODEL_CACHE_ROOT", None)
        reference = reference_python(
            args.reference_venv or os.path.join(work, f"audmodel-{VERSION}")
        )
        host, uid, cache = prepare(work)
        python = sys.executable
        command = os.path.join(os.path.dirname(python), "audmodel")
        their_import = [reference, "-c", "import audmodel"]
        load = (
            "import sys, audmodel\n"
            "audmodel.config.REPOSITORIES = "
            "[audmodel.Repository('models', sys.argv[1], 'file-system')]\n"
            "audmodel.load(sys.argv[2], cache_root=sys.argv[3])\n"
        )
        their_load = [reference, "-c", load, host, uid, cache]
        repository = ["-r", "models", host, "file-system"]
        print(f"{args.runs} paired runs of each, medians\n")
        floor = paired([python, "-c", "pass"], their_import, args.runs, environment)
        print(f"{'python -c pass':<44} {floor[0]:6.3f} s (the floor)")
        met = [
            report(
                "import audmodel",
                paired(
                    [python, "-c", "import audmodel"],
                    their_import,
                    args.runs,
                    environment,
                ),
                0.3,
            ),
            report(
                "audmodel --help",
                paired([command, "--help"], their_import, args.runs, environment),
                0.3,
            ),
            report(
                "audmodel load --help",
                paired(
                    [command, "load", "--help"], their_import, args.runs, environment
                ),
                0.3,
            ),
            report(
                "audmodel uid NAME VERSION -p KEY=VALUE",
                paired(
                    [command, "uid", "startup", "1.0.0", "-p", "layers=10"],
                    their_import,
                    args.runs,
                    environment,
                ),
                0.3,
            ),
            report(
                "audmodel.load(ID) of a cached model",
                paired(
                    [python, "-c", load, host, uid, cache],
                    their_load,
                    args.runs,
                    environment,
                ),
                0.5,
            ),
            report(
                "audmodel load ID of a cached model",
                paired(
                    [command, "load", uid, "--cache-root", cache, *repository],
                    their_load,
                    args.runs,
                    environment,
                ),
                0.5,
            ),
        ]
        print("\nFirst use of a backend, added to import audmodel:")
        ours_import = [python, "-c", "import audmodel"]
        for name in ("file-system", "s3", "minio", "artifactory"):
            lookup = (
                f"import audmodel\naudmodel.Repository.backend_registry[{name!r}]\n"
            )
            first_use, plain_import, _ = paired(
                [python, "-c", lookup], ours_import, args.runs, environment
            )
            print(f"  {name:<12} +{first_use - plain_import:.3f} s")
        print(f"\n{sum(met)} of {len(met)} targets met")


if __name__ == "__main__":
    main()
