"""Page loads of the catalog (``audmodel ui``) on a repository of 10,000 models.

Usage::

    .venv/bin/pip install -e '.[benchmark,ui]'
    .venv/bin/python benchmarks/ui.py [--ids 1000]

Builds the repository of ``benchmarks/discovery.py`` (``--ids`` short IDs x
10 versions, a few aliases) on the file system, serves the catalog on
127.0.0.1 with uvicorn, and times HTTP requests to it: each page first
cold (the server's first request takes its snapshot, reading every header
into the cache's index), then warm (the median of 20 requests). Target:
every warm page load under 200 ms.

"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

from discovery import TASKS
from discovery import repository_files
from discovery import write_folder

import audmodel
from audmodel import _ui


TARGET = 0.2  # seconds


def timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url) as answer:
        answer.read()
        assert answer.status == 200, url
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="audmodel-ui-")
    try:
        host = os.path.join(work, "host")
        files = repository_files(args.ids)
        short_id, version = next(
            p.split("/")[1:3] for p in files if p.endswith(".header.yaml")
        )
        for alias in ["production", "staging", "baseline"]:
            files[f"_alias/{alias}/1.0.0/{alias}-1.0.0.alias.yaml"] = (
                f"uid: {short_id}-{version}\n".encode()
            )
        write_folder(os.path.join(host, "models"), files)
        repository = audmodel.Repository("models", host, "file-system")
        audmodel.config.REPOSITORIES = [repository]
        catalog = _ui.Catalog([repository], os.path.join(work, "cache"), ttl=3600)
        pages = {
            "models page": "",
            "search": f"?q={short_id}",
            "parameter filter (1 %)": f"?param=task={TASKS[7]}",
            "subgroup, sorted by name": "?subgroup=emotion&sort=name",
            "page 20": "?page=20",
            "model page": f"/{short_id}-{version}",
            "alias": "",  # filled below
            "lookup page": "",
        }
        print(f"{args.ids * 10} model versions, {args.ids} short IDs")
        with _ui.running(catalog) as address:
            root = address.removesuffix("/models")
            urls = {label: f"{address}{suffix}" for label, suffix in pages.items()}
            urls["alias"] = f"{root}/aliases/production"
            urls["lookup page"] = f"{root}/lookup/onnx?subgroup=speech.asr"
            cold = timed_get(urls["models page"])
            print(f"  first request (snapshot, headers read): {cold:.2f} s")
            failed = 0
            for label, url in urls.items():
                first = timed_get(url)
                warm = statistics.median(timed_get(url) for _ in range(20))
                met = warm <= TARGET
                failed += not met
                print(
                    f"  {label:<26} first {first * 1000:7.1f} ms, "
                    f"warm {warm * 1000:6.1f} ms  target <= {TARGET * 1000:.0f} ms "
                    f"{'met' if met else 'NOT MET'}"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("all targets met" if not failed else f"targets not met: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
