"""Take the screenshots of the catalog shown in the README and the docs.

Usage::

    .venv/bin/python docs/screenshots.py

Fills an S3 repository on a moto server (on 127.0.0.1, so that no local
path shows on the pages) with example models, serves the catalog
(``audmodel ui``) on 127.0.0.1, and photographs the models page, a model
page with its card, the compare page and a model page on a phone in
headless Chromium (``/usr/bin/chromium``, or ``CHROMIUM``) into
``docs/_static/``. Needs the extras ``test`` and ``ui``.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import tempfile

import boto3
from moto.server import ThreadedMotoServer
from playwright.sync_api import sync_playwright

import audmodel
from audmodel import _ui


HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the catalog tests start it: no sandbox (root) and no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


CARD = """# Valence from speech

Predicts **valence** (negative to positive) from 16 kHz speech,
as a value between 0 and 1.

| data | CCC |
|------|-----|
| msppodcast 2.6.1 | 0.61 |

Trained on MSP-Podcast; see `log/eval.yaml` for the evaluation.
"""


def fill(root: str, endpoint: str) -> audmodel.Repository:
    """A repository with a few models of an emotion and a speech team."""
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket="models"
    )
    repository = audmodel.Repository("models", endpoint, "s3")
    audmodel.config.REPOSITORIES = [repository]
    model = os.path.join(root, "model")
    os.makedirs(os.path.join(model, "log"))
    with open(os.path.join(model, "model.onnx"), "wb") as fp:
        fp.write(os.urandom(300_000))
    with open(os.path.join(model, "model.yaml"), "w") as fp:
        fp.write("layers: 14\n")
    with open(os.path.join(model, "log", "eval.yaml"), "w") as fp:
        fp.write("uar: 0.61\n")
    with open(os.path.join(model, "README.md"), "w") as fp:
        fp.write(CARD)
    day = datetime.date(2026, 11, 2)
    catalog = [
        ("onnx", "emotion.cnn", {"task": "arousal", "sampling_rate": 16000}),
        ("onnx", "emotion.cnn", {"task": "valence", "sampling_rate": 16000}),
        ("torch", "emotion.transformer", {"task": "dimensions", "layers": 12}),
        ("onnx", "speech.vad", {"frame": 0.01, "sampling_rate": 8000}),
        ("torch", "speech.asr", {"language": "de", "vocabulary": 5000}),
        ("onnx", "speaker.age", {"sampling_rate": 16000}),
    ]
    for i, (name, subgroup, params) in enumerate(catalog):
        for version in ["1.0.0", "1.1.0"][: 1 + i % 2]:
            with open(os.path.join(model, "model.onnx"), "wb") as fp:
                fp.write(os.urandom(300_000))  # each version its own weights
            audmodel.publish(
                model,
                name,
                params,
                version,
                subgroup=subgroup,
                author=["alice", "bob", "chen"][i % 3],
                date=day + datetime.timedelta(days=3 * i),
                meta={"data": {"msppodcast": {"version": "2.6.1"}}, "uar": 0.61},
            )
    uid = audmodel.uid("onnx", catalog[1][2], "1.1.0", subgroup="emotion.cnn")
    audmodel.set_alias("emotion-valence", uid)
    return repository


def photograph(page, name: str, full_page: bool = True) -> None:
    """Save what a browser page shows into ``docs/_static/NAME``."""
    page.screenshot(path=os.path.join(HERE, "_static", name), full_page=full_page)


def main() -> None:
    """Fill a repository, serve it, photograph its pages."""
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]:
        os.environ.setdefault(name, "demo")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with tempfile.TemporaryDirectory() as root:
        repository = fill(root, f"http://127.0.0.1:{port}")
        catalog = _ui.Catalog([repository], os.path.join(root, "cache"))
        with _ui.running(catalog) as address, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1200, "height": 620})
            page.goto(address)
            photograph(page, "catalog-models.png", full_page=False)
            page.click("text=emotion-valence")
            page.wait_for_selector("#card")
            photograph(page, "catalog-model.png")
            page.check("input[name=uid]:not(:checked)")
            page.click("text=Compare ticked versions")
            page.wait_for_selector("#compare")
            photograph(page, "catalog-compare.png")
            phone = browser.new_page(viewport={"width": 420, "height": 900})
            phone.goto(address.replace("/models", "/aliases/emotion-valence"))
            phone.wait_for_selector("#card")
            photograph(phone, "catalog-phone.png", full_page=False)
            browser.close()
    server.stop()


if __name__ == "__main__":
    main()
