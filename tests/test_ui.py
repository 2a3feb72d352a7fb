"""The catalog in the browser: pages and their JSON twins, then a real Chromium."""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from helpers import make_file_system_repository
from helpers import publish
from hostile_files import readme_nested
from hostile_files import readme_of_tables
import pytest

import audmodel
from audmodel import _catalog
from audmodel import _ui
from audmodel import _ui_card
from audmodel import _ui_compare
from audmodel import _ui_safety


starlette = pytest.importorskip("starlette", reason="needs the extra 'ui'")
from starlette.testclient import TestClient  # noqa: E402


HOSTILE = "<script>window.hacked = 1</script>"
# A file name cannot hold a slash.
HOSTILE_FILE = "<img src=x onerror='window.hacked = 1'>.txt"


@pytest.fixture
def team(request, tmp_path, monkeypatch) -> dict[str, str]:
    """A file-system repository with models of two subgroups, and aliases."""
    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    root = tmp_path / "team-model"
    (root / "log").mkdir(parents=True)
    (root / "model.onnx").write_bytes(os.urandom(4096))
    (root / "log" / "eval.yaml").write_text("uar: 0.5\n")
    uids = {
        "anger-1": audmodel.publish(
            str(root),
            "onnx",
            {"task": "anger", "rate": 16000},
            "1.0.0",
            subgroup="emotion.cnn",
            author="alice",
            meta={"data": {"emodb": {"version": "1.1.1"}}, "note": HOSTILE},
        ),
        "anger-2": audmodel.publish(
            str(root),
            "onnx",
            {"task": "anger", "rate": 16000},
            "2.0.0",
            subgroup="emotion.cnn",
            author="alice",
            alias="angry",
        ),
        "joy": audmodel.publish(
            str(root),
            "onnx",
            {"task": "joy", "rate": 8000},
            "1.0.0",
            subgroup="emotions",
            author="bob",
        ),
        "asr": audmodel.publish(
            str(root),
            "torch",
            {"language": "de"},
            "1.0.0",
            subgroup="speech",
        ),
    }
    (root / HOSTILE_FILE).write_text("x")
    uids["hostile"] = audmodel.publish(
        str(root), "onnx", {"task": HOSTILE}, "1.0.0", subgroup="emotion"
    )
    return uids


@pytest.fixture
def client(team, tmp_path) -> TestClient:
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    return TestClient(_ui.app(catalog))


def rows(client, **query) -> list[dict]:
    response = client.get("/api/models", params=query)
    assert response.status_code == 200
    return response.json()["models"]


# --- HTTP -----------------------------------------------------------------------


def test_models_page_has_one_row_per_short_id_latest_first(client, team):
    page = client.get("/models")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    data = client.get("/models?format=json").json()
    assert data == client.get("/api/models").json()
    assert data["total"] == 4  # short IDs; 'anger' has two versions
    anger = next(r for r in data["models"] if r["uid"] == team["anger-2"])
    assert anger["versions"] == ["2.0.0", "1.0.0"]
    assert anger["aliases"] == ["angry"]
    assert (anger["name"], anger["subgroup"], anger["author"]) == (
        "onnx",
        "emotion.cnn",
        "alice",
    )
    for row in data["models"]:
        assert row["short_id"] in page.text


def test_models_are_searched_filtered_sorted_and_paged(client, team, monkeypatch):
    assert [r["uid"] for r in rows(client, q="angry")] == [team["anger-2"]]
    assert [r["name"] for r in rows(client, name="torch")] == ["torch"]
    # A subgroup holds the ones below it, not those that start alike.
    below = {r["subgroup"] for r in rows(client, subgroup="emotion")}
    assert below == {"emotion", "emotion.cnn"}
    assert [r["uid"] for r in rows(client, param="rate=8000")] == [team["joy"]]
    assert rows(client, param="rate=8001") == []
    both = rows(client, param=["task=anger", "rate=16000"])
    assert [r["uid"] for r in both] == [team["anger-2"]]
    names = [r["name"] for r in rows(client, sort="name")]
    assert names == sorted(names)
    monkeypatch.setattr(_ui, "PAGE_SIZE", 2)
    pages = [client.get("/api/models", params={"page": p}).json() for p in (1, 2)]
    assert [page["pages"] for page in pages] == [2, 2]
    shown = [r["uid"] for page in pages for r in page["models"]]
    assert len(shown) == len(set(shown)) == 4
    tree = client.get("/api/models").json()["subgroups"]
    assert {node["path"]: node["count"] for node in tree}["emotion"] == 2


def test_model_page_tells_everything_about_a_version(client, team):
    uid = team["anger-1"]
    page = client.get(f"/models/{uid}")
    assert page.status_code == 200
    data = client.get(f"/api/models/{uid}").json()
    assert data == client.get(f"/models/{uid}?format=json").json()
    assert data["header"]["author"] == "alice"
    assert data["parameters"] == {"rate": 16000, "task": "anger"}
    assert data["meta"]["data"] == {"emodb": {"version": "1.1.1"}}
    assert "version: 1.1.1" in data["meta_yaml"]
    assert [v["version"] for v in data["versions"]] == ["2.0.0", "1.0.0"]
    assert data["aliases"] == []
    assert {f["path"]: f["size"] for f in data["files"]} == {
        "log/eval.yaml": 9,
        "model.onnx": 4096,
    }
    assert data["url"] == audmodel.url(uid)
    assert data["snippets"]["python"] == f'audmodel.load("{uid}")'
    assert data["snippets"]["shell"].startswith(f"audmodel load {uid} -r models ")
    for text in ["alice", "emotion.cnn", "model.onnx", "4.0 KiB", "emodb"]:
        assert text in page.text
    # A short ID shows the latest version.
    latest = client.get(f"/api/models/{uid.split('-')[0]}").json()
    assert latest["uid"] == team["anger-2"]
    assert latest["aliases"] == ["angry"]


def test_alias_redirects_to_its_model(client, team):
    response = client.get("/aliases/angry", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == f"/models/{team['anger-2']}"
    assert client.get("/api/aliases/angry").json()["uid"] == team["anger-2"]
    assert client.get("/aliases/nothing").status_code == 404


def test_aliases_are_found_on_every_backend(repository, model_root):
    first = publish(model_root, "1.0.0", alias="best")
    second = publish(model_root, "2.0.0", alias="v2.0.0-rc.yaml")
    found = _catalog.listed_aliases(repository)
    assert found == {"best": first, "v2.0.0-rc.yaml": second}


def test_unknown_model_is_not_found(client):
    response = client.get("/models/12345678-1.0.0")
    assert response.status_code == 404
    assert "There is no model &#39;12345678-1.0.0&#39;" in response.text


def test_lookup_page_has_a_column_per_parameter(client, team):
    data = client.get("/api/lookup/onnx", params={"subgroup": "emotion.cnn"}).json()
    assert (
        data
        == client.get(
            "/lookup/onnx", params={"subgroup": "emotion.cnn", "format": "json"}
        ).json()
    )
    assert data["columns"] == ["task", "rate"]  # as published
    assert [row["uid"] for row in data["rows"]] == [team["anger-1"], team["anger-2"]]
    assert data["rows"][0]["values"] == ["anger", 16000]
    page = client.get("/lookup/onnx")
    assert page.status_code == 200 and "<th>rate</th>" in page.text


def test_hostile_text_is_escaped(client, team):
    for path in [
        "/models",
        f"/models/{team['anger-1']}",
        f"/models/{team['hostile']}",
        "/lookup/onnx",
    ]:
        page = client.get(path).text
        assert HOSTILE not in page, path
    assert "&lt;script&gt;window.hacked = 1&lt;/script&gt;" in page
    files = client.get(f"/api/models/{team['hostile']}").json()["files"]
    assert HOSTILE_FILE in [f["path"] for f in files]
    assert HOSTILE_FILE not in client.get(f"/models/{team['hostile']}").text


def test_nothing_can_be_changed(client, team):
    for method in ["post", "put", "delete", "patch"]:
        assert getattr(client, method)(f"/models/{team['joy']}").status_code == 405


def test_unreachable_repository_shows_a_banner_and_the_others_still_show(
    team, tmp_path
):
    gone = audmodel.Repository("gone", str(tmp_path / "nowhere"), "file-system")
    repositories = [gone, *audmodel.config.REPOSITORIES]
    client = TestClient(_ui.app(_ui.Catalog(repositories, str(tmp_path / "cache"))))
    page = client.get("/models")
    assert page.status_code == 200
    assert "Repository <b>gone</b> cannot be read" in page.text
    assert client.get("/api/models").json()["total"] == 4


def test_broken_header_is_listed_as_broken(client, team, tmp_path):
    short_id, version = team["joy"].split("-", 1)
    header = (
        tmp_path
        / "host-models"
        / "models"
        / "_uid"
        / short_id
        / version
        / f"{short_id}-{version}.header.yaml"
    )
    header.write_text("name: [unclosed\n")
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "other-cache"))
    client = TestClient(_ui.app(catalog))
    data = client.get("/api/models").json()
    assert [b["uid"] for b in data["broken"]] == [team["joy"]]
    assert team["joy"] not in [r["uid"] for r in data["models"]]
    page = client.get(f"/models/{team['joy']}")
    assert page.status_code == 200
    assert "cannot be read" in page.text


def test_credentials_in_a_host_are_never_shown():
    host = "http://key:secret@127.0.0.1:9000"
    repository = audmodel.Repository("models", host, "s3")
    assert _ui._repository_info(repository)["host"] == "http://127.0.0.1:9000"
    assert "secret" not in _ui._repository_args(repository)


def test_snapshot_is_taken_anew_when_old(team, tmp_path, model_root):
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    client = TestClient(_ui.app(catalog))
    before = client.get("/api/models").json()["total"]
    audmodel.publish(model_root, "new", {}, "1.0.0")
    assert client.get("/api/models").json()["total"] == before  # from memory
    catalog.ttl = 0.0
    assert client.get("/api/models").json()["total"] == before + 1


def test_ui_without_the_extra_names_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "starlette", None)
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    # Named as this package is installed: from its clone or wheel, not by
    # 'pip install audmodel[ui]', which would fetch another package.
    with pytest.raises(ImportError, match=r"extra 'ui'.*pip install -e '\.\[ui\]'"):
        _ui.app(_ui.Catalog([], "cache"))
    from audmodel._cli import main

    assert main(["ui", "--port", "0"]) == 1
    assert "pip install -e '.[ui]'" in capsys.readouterr().err


def test_command_starts_the_catalog_on_loopback(team, tmp_path):
    repository = audmodel.config.REPOSITORIES[0]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "audmodel", "ui", "--port", str(port)]
    command += ["-r", repository.name, repository.host, repository.backend]
    command += ["--cache-root", str(tmp_path / "cache")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert f"http://127.0.0.1:{port}/models" in process.stdout.readline()
        assert json.loads(fetch(f"http://127.0.0.1:{port}/api/models"))["total"] == 4
    finally:
        process.terminate()
        process.wait(timeout=30)


def fetch(url: str, seconds: float = 20) -> bytes:
    """The body at ``url``, once the server answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url) as answer:
                return answer.read()
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# --- a real browser --------------------------------------------------------------


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    """Headless Chromium from the system's packages, driven by Playwright."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it")
        pytest.skip(f"{CHROMIUM} is missing (Debian's package chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def catalog_page(team, tmp_path, browser):
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    with _ui.running(catalog) as address:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
        page.goto(address)
        yield page, address, dialogs
        page.close()


def test_browser_search_filter_open_and_follow_an_alias(catalog_page, team):
    page, address, _ = catalog_page
    assert page.inner_text("#total") == "4"
    page.fill("input[name=q]", "speech")
    page.click("button[type=submit]")
    page.wait_for_url("**q=speech**")
    assert page.inner_text("#total") == "1"
    page.goto(address)
    page.fill("input[name=param]", "rate=8000")
    page.click("button[type=submit]")
    page.wait_for_url("**param=rate**")
    assert page.inner_text("#total") == "1"
    page.click(f"text={team['joy'].split('-')[0]}")
    page.wait_for_url(f"**/models/{team['joy']}")
    assert "joy" in page.inner_text("#parameters")
    page.goto(address)
    page.click("a.alias:has-text('angry')")
    page.wait_for_url(f"**/models/{team['anger-2']}")
    assert page.inner_text("h1").endswith(team["anger-2"])
    files = page.inner_text("#files")
    assert "model.onnx" in files and "4.0 KiB" in files


def test_browser_shows_hostile_text_as_text(catalog_page, team):
    page, address, dialogs = catalog_page
    page.goto(address.replace("/models", f"/models/{team['anger-1']}"))
    assert HOSTILE in page.inner_text("#meta-tree")
    page.goto(address.replace("/models", f"/models/{team['hostile']}"))
    assert HOSTILE_FILE in page.inner_text("#files")
    assert HOSTILE in page.inner_text("#parameters")
    assert page.evaluate("window.hacked") is None
    assert dialogs == []


# --- safe to leave running ----------------------------------------------------


def raw_get(address: str, path: str, host: str | None = None):
    """A GET with a Host header of one's choice, as a rebinding page sends it."""
    url = urllib.parse.urlsplit(address)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", host or url.netloc)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), body


@pytest.fixture
def served(team, tmp_path):
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    with _ui.running(catalog) as address:
        yield address


def test_catalog_answers_only_to_its_own_host_names(served):
    port = urllib.parse.urlsplit(served).port
    for host in ("evil.example.com", f"evil.example.com:{port}", "10.0.0.1"):
        status, _, body = raw_get(served, "/models", host)
        assert status == 400, host
        assert b"Unknown host" in body and b"--allow-host" in body
        status, _, body = raw_get(served, "/api/models", host)
        assert status == 400
        assert json.loads(body)["error"] == "Unknown host"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST"):
        assert raw_get(served, "/models", host)[0] == 200, host


def test_allowed_host_names_are_answered():
    hosts = _ui_safety.allowed_hosts("0.0.0.0", ["models.example.com"])
    assert "models.example.com" in hosts and "0.0.0.0" not in hosts
    scope = {"headers": [(b"host", b"models.example.com:8765")], "query_string": b""}
    assert _ui_safety.refusal(scope, hosts) is None
    scope["headers"] = [(b"host", b"other.example.com")]
    assert _ui_safety.refusal(scope, hosts)[0] == 400


def test_huge_queries_are_refused_with_a_clear_page(served):
    status, _, body = raw_get(served, "/models?q=" + "x" * 100_000)
    assert status == 414 and len(body) < 2000
    assert b"at most 4096" in body and b"/models" in body
    status, _, body = raw_get(served, "/api/models?q=" + "x" * 300)
    assert status == 400
    assert json.loads(body)["error"] == "Parameter too long"
    many = "&".join(f"param=a{i}=1" for i in range(100))
    assert raw_get(served, "/models?" + many)[0] == 400
    assert raw_get(served, "/models?q=" + "x" * 200)[0] == 200


def test_pages_are_sent_with_headers_that_keep_them_inert(served, team):
    for path in ("/models", f"/models/{team['joy']}", "/api/models", "/nope"):
        _, headers, _ = raw_get(served, path)
        headers = {k.lower(): v for k, v in headers.items()}
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    _, _, page = raw_get(served, f"/models/{team['joy']}")
    assert b"<script>" not in page and b" style=" not in page


def test_catalog_off_loopback_warns_that_it_has_no_authentication(capsys):
    pytest.importorskip("uvicorn")
    catalog = _ui.Catalog([], "cache")
    with socket.socket() as taken:  # serve() fails at once on a taken port
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match="is taken"):
            _ui.serve(catalog, "0.0.0.0", taken.getsockname()[1])
    assert "no authentication" in capsys.readouterr().err


def test_browser_copy_button_works_under_the_content_security_policy(
    catalog_page, team
):
    page, address, _ = catalog_page
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(address.replace("/models", f"/models/{team['joy']}"))
    button = page.locator("button[data-copy]").first
    button.click()
    page.wait_for_function(
        "document.querySelector('button[data-copy]').textContent === 'copied'"
    )
    assert violations == []


# --- pages that tell the user what happened ---------------------------------------


def test_every_error_gets_the_catalogs_page_and_the_api_a_json_body(client, team):
    cases = [
        ("GET", "/nope", 404, "Not found"),
        ("GET", "/models/12345678-1.0.0", 404, "Not found"),
        ("GET", "/aliases/nope", 404, "Not found"),
        ("GET", "/lookup/nope", 404, "Not found"),
        ("POST", "/models", 405, "Method not allowed"),
    ]
    for method, path, status, title in cases:
        page = client.request(method, path)
        assert page.status_code == status, path
        assert f"<h1>{title}</h1>" in page.text and 'href="/models"' in page.text
        api = client.request(method, "/api" + path)
        assert api.status_code == status, path
        assert api.json()["error"] == title and api.json()["detail"]


def test_a_failing_page_is_a_500_page_not_a_traceback(team, tmp_path, monkeypatch):
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    client = TestClient(_ui.app(catalog), raise_server_exceptions=False)

    def broken(*args):
        raise OSError("disk on fire")

    monkeypatch.setattr(_ui, "models_page", broken)
    page = client.get("/models")
    assert page.status_code == 500 and "disk on fire" in page.text
    assert "Traceback" not in page.text
    assert client.get("/api/models").json()["error"] == "Server error"


def test_invalid_filters_are_shown_above_the_results(client, team):
    data = client.get("/api/models", params={"param": "noequals"}).json()
    assert data["filter_errors"] == ["'noequals' is no filter: write it as KEY=VALUE."]
    data = client.get("/api/models", params={"param": "task=["}).json()
    assert "compared as text" in data["filter_errors"][0]
    page = client.get("/models", params={"param": "noequals"})
    assert "is no filter" in page.text


def test_search_keeps_what_was_typed_and_matches_without_case(client, team):
    data = client.get("/api/models", params={"q": "SPEECH"}).json()
    assert data["query"]["q"] == "SPEECH"
    assert [row["name"] for row in data["models"]] == ["torch"]
    assert 'value="SPEECH"' in client.get("/models", params={"q": "SPEECH"}).text


def test_no_match_says_what_was_searched_and_offers_to_clear(client, team):
    page = client.get("/models", params={"q": "nothing-like-it", "name": "onnx"})
    assert "No model matches &#39;nothing-like-it&#39;, name onnx." in page.text
    assert "Clear filters" in page.text and '<table class="models">' not in page.text


# --- stays current ----------------------------------------------------------------


def test_page_says_when_its_snapshot_was_taken_and_refresh_is_rate_limited(
    team, tmp_path, model_root, monkeypatch
):
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    client = TestClient(_ui.app(catalog))
    data = client.get("/api/models").json()
    taken = datetime.datetime.fromisoformat(data["snapshot"]["taken"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - taken).total_seconds()) < 60
    page = client.get("/models", params={"q": "onnx"})
    shown = data["snapshot"]["taken"][:19].replace("T", " ")  # as every date
    assert f"as they were at {shown} (UTC)" in page.text
    assert 'href="/models?q=onnx&amp;refresh=1"' in page.text
    before = data["total"]
    audmodel.publish(model_root, "new", {}, "1.0.0")
    # Asked again at once: the snapshot is too young to be taken anew.
    monkeypatch.setattr(_ui, "REFRESH_INTERVAL", 3600.0)
    assert client.get("/api/models?refresh=1").json()["total"] == before
    monkeypatch.setattr(_ui, "REFRESH_INTERVAL", 0.0)
    assert client.get("/api/models?refresh=1").json()["total"] == before + 1


def test_list_of_one_name_shows_the_parameters_that_differ_sortable(client, team):
    data = client.get("/api/models", params={"name": "onnx"}).json()
    assert data["columns"] == ["task", "rate"]  # both differ; as published
    by_task = client.get(
        "/api/models", params={"name": "onnx", "sort": "param:task"}
    ).json()
    tasks = [row["columns"][0] for row in by_task["models"]]
    assert tasks == sorted(tasks)
    assert client.get("/api/models").json()["columns"] == []  # unfiltered: none
    page = client.get("/models", params={"name": "onnx", "sort": "param:rate"})
    assert 'class="parameter"' in page.text and "sort=param%3Atask" in page.text
    assert "by rate</option>" in page.text


# --- model cards, compare, phones --------------------------------------------------

README = """# Emotion model

Detects **anger** in speech.

<script>window.hacked = 1</script>

<img src="x" onerror="window.hacked = 1">

[run me](javascript:window.hacked=1) and
<a href="javascript:window.hacked = 1" onclick="window.hacked = 1">me too</a>

![a diagram](https://example.org/diagram.png)

| data | UAR |
|------|-----|
| emodb | 0.5 |
"""


def publish_with_readme(tmp_path, name: str, readme: str, weights: int = 0) -> str:
    root = tmp_path / name
    root.mkdir()
    (root / name).write_text(readme)
    (root / "weights.bin").write_bytes(os.urandom(weights))
    return audmodel.publish(str(root), "card", {"readme": name}, "1.0.0")


def count_archive_reads(monkeypatch) -> list[int]:
    """Sizes of all reads of parts of stored files, from now on."""
    from audmodel.backend._common import RangedReads

    read = []
    read_range, read_tail = RangedReads.read_range, RangedReads.read_tail

    def count_range(self, *args, **kwargs):
        data = read_range(self, *args, **kwargs)
        read.append(len(data))
        return data

    def count_tail(self, *args, **kwargs):
        data, size = read_tail(self, *args, **kwargs)
        read.append(len(data))
        return data, size

    monkeypatch.setattr(RangedReads, "read_range", count_range)
    monkeypatch.setattr(RangedReads, "read_tail", count_tail)
    return read


def test_browser_model_card_is_rendered_inert_from_a_few_ranges(
    team, tmp_path, browser, monkeypatch
):
    weights = 2 * 1024 * 1024
    uid = publish_with_readme(tmp_path, "README.md", README, weights)
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    read = count_archive_reads(monkeypatch)
    with _ui.running(catalog) as address:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
        page.goto(address.replace("/models", f"/models/{uid}"))
        card = page.locator("#card")
        assert card.locator("h1").inner_text() == "Emotion model"
        assert card.locator("strong").inner_text() == "anger"
        assert "emodb" in card.locator("table").inner_text()
        assert "[image: a diagram]" in card.inner_text()
        # Nothing of the README can run or load anything.
        assert card.locator("script, img, iframe, [onerror], [onclick]").count() == 0
        for index in range(card.locator("a").count()):
            link = card.locator("a").nth(index)
            assert not (link.get_attribute("href") or "").startswith("javascript")
            link.click()
        assert page.evaluate("window.hacked") is None
        assert dialogs == []
        page.close()
    readme_entry = len(README) + 200  # its local header and name, at most
    assert 0 < sum(read) < readme_entry + 100_000
    assert sum(read) < weights / 10  # far less than the archive


def test_large_readme_is_linked_and_other_readmes_shown_as_text(team, tmp_path):
    large = "x" * (_ui_card.RENDER_LIMIT + 1)
    linked = publish_with_readme(tmp_path, "README.md", large)
    text = publish_with_readme(tmp_path, "README.txt", "<b>as typed</b>\n")
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    client = TestClient(_ui.app(catalog))
    card = client.get(f"/api/models/{linked}").json()["card"]
    assert card == {"file": "README.md", "size": len(large), "html": None, "text": None}
    page = client.get(f"/models/{linked}").text
    assert f'href="/models/{linked}/readme"' in page
    raw = client.get(f"/models/{linked}/readme")
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.text == large
    assert client.get(f"/api/models/{text}").json()["card"]["text"] == (
        "<b>as typed</b>\n"
    )
    assert "&lt;b&gt;as typed&lt;/b&gt;" in client.get(f"/models/{text}").text
    # Models without a README have no card, and no README to link.
    assert client.get(f"/api/models/{team['joy']}").json()["card"] is None
    assert client.get(f"/models/{team['joy']}/readme").status_code == 404


def test_compare_marks_what_differs_and_its_json_twin_agrees(client, team):
    asked = {"uid": [team["anger-2"], team["joy"]]}
    data = client.get("/api/compare", params=asked).json()
    assert [m["uid"] for m in data["models"]] == [team["anger-2"], team["joy"]]
    sections = {s["title"]: {r["key"]: r for r in s["rows"]} for s in data["sections"]}
    assert sections["Parameters"]["task"]["values"] == ["anger", "joy"]
    assert sections["Parameters"]["task"]["differs"]
    assert not sections["Model"]["name"]["differs"]
    assert sections["Meta"] == {}  # neither has meta
    assert not sections["Files"]["model.onnx"]["differs"]
    assert client.get("/compare", params=asked).status_code == 200
    # An alias or a short ID stands for its model.
    by_alias = client.get("/api/compare", params={"uid": ["angry", team["joy"]]})
    assert by_alias.json()["models"][0]["uid"] == team["anger-2"]


@pytest.mark.parametrize(
    "uids, status",
    [
        ([], 400),
        (["x"], 400),
        (["a", "a"], 400),
        ([f"m{i}" for i in range(_ui_compare.MAX_MODELS + 1)], 400),
        (["00000000-1.0.0", "11111111-1.0.0"], 404),
    ],
)
def test_compare_refuses_what_it_cannot_compare(client, team, uids, status):
    page = client.get("/compare", params={"uid": uids})
    assert page.status_code == status
    assert 'href="/models"' in page.text  # the catalog's page, with a way back
    api = client.get("/api/compare", params={"uid": uids})
    assert api.status_code == status and api.json()["detail"]


def test_browser_compare_ticked_versions_marks_a_changed_file(
    catalog_page, team, tmp_path, monkeypatch
):
    page, address, _ = catalog_page
    monkeypatch.setattr(_ui, "REFRESH_INTERVAL", 0.0)
    root = tmp_path / "team-model"
    (root / "model.onnx").write_bytes(os.urandom(4096))  # same size, new bytes
    newer = audmodel.publish(
        str(root), "onnx", {"task": "anger", "rate": 16000}, "3.0.0",
        subgroup="emotion.cnn",
    )  # fmt: skip
    page.goto(address.replace("/models", f"/models/{newer}?refresh=1"))
    page.check(f"input[value='{team['anger-1']}']")
    page.click("text=Compare ticked versions")
    page.wait_for_url("**/compare?**")
    changed = page.locator("tr.differs th.key").all_inner_texts()
    assert any(text.startswith("model.onnx") for text in changed)
    assert any(text.startswith("version") for text in changed)
    assert not any(text.startswith("log/eval.yaml") for text in changed)
    assert not any(text.startswith("task") for text in changed)
    # From the list: two models whose parameters differ.
    page.goto(address)
    page.check(f"input[value='{team['joy']}']")
    page.check(f"input[value='{team['asr']}']")
    page.click("text=Compare ticked")
    page.wait_for_url("**/compare?**")
    changed = page.locator("#section-parameters tr.differs th.key").all_inner_texts()
    assert {text.split()[0] for text in changed} == {"language", "rate", "task"}


def test_browser_every_page_fits_a_phone_and_a_desktop(team, tmp_path, browser):
    root = tmp_path / "long"
    deep = root / ("folder-with-a-long-name-" * 3)
    deep.mkdir(parents=True)
    (deep / ("file-with-a-long-name-" * 4 + ".bin")).write_bytes(b"x")
    (root / "README.md").write_text("# Card\n\n```\n" + "x" * 300 + "\n```\n")
    long = audmodel.publish(
        str(root),
        "onnx",
        {"task": "anger", "a_long_parameter_name": "value" * 12},
        "1.0.0",
        subgroup="emotion.cnn.with.a.deep.subgroup",
        meta={"note": "y" * 200},
    )
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    paths = [
        "/models",
        "/models?name=onnx",
        f"/models/{long}",
        "/lookup/onnx",
        f"/compare?uid={long}&uid={team['anger-2']}&uid={team['joy']}",
    ]
    with _ui.running(catalog) as address:
        for width in (420, 1400):
            page = browser.new_page(viewport={"width": width, "height": 900})
            for path in paths:
                page.goto(address.replace("/models", path, 1))
                scrolled, window = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert (width, path, scrolled) == (width, path, window)
            page.close()


# Concurrent requests of one page wait for each other's cache locks.
@pytest.mark.filterwarnings("ignore:Could not acquire lock")
def test_a_readme_too_costly_to_render_is_shown_as_text_rendered_once(
    team, tmp_path, monkeypatch
):
    def published(kind: str, readme: str) -> str:
        root = tmp_path / kind
        root.mkdir()
        (root / "README.md").write_text(readme)
        return audmodel.publish(str(root), "card", {"kind": kind}, "1.0.0")

    tables = published("tables", readme_of_tables())
    nested = published("nested", readme_nested())
    sound = published("sound", "# Sound\n")
    catalog = _ui.Catalog(audmodel.config.REPOSITORIES, str(tmp_path / "cache"))
    client = TestClient(_ui.app(catalog))
    renders = []
    render = _ui_card.render_markdown
    monkeypatch.setattr(
        _ui_card, "render_markdown", lambda text: renders.append(1) or render(text)
    )
    for uid in (tables, nested):
        card = client.get(f"/api/models/{uid}").json()["card"]
        assert card["html"] is None and card["text"].startswith(("|a|a|", "<div>"))
    assert renders == []
    # A card that is rendered is rendered once, however many ask at once.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: client.get(f"/models/{sound}"), range(8)))
    assert all("<h1>Sound</h1>" in page.text for page in pages)
    assert renders == [1]


def test_a_page_asked_for_by_a_path_leading_elsewhere_links_only_within(client, team):
    for path in ("//evil.example/login", "//evil.example/models", "/\\evil.example"):
        page = client.get(f"http://testserver{path}")
        links = re.findall(r'href="([^"]*)"', page.text)
        assert links and all(
            link.startswith("/") and not link.startswith(("//", "/\\"))
            for link in links
        ), (path, links)
    refreshed = client.get(f"/models/{team['joy']}").text
    assert f'href="/models/{team["joy"]}?refresh=1"' in refreshed


def test_a_model_page_names_the_aliases_that_audmodel_aliases_names(
    request, tmp_path, monkeypatch, model_root
):
    from audmodel import _aliases
    from audmodel import _layout

    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    uid = publish(model_root, alias="stable")
    # An alias file written, the model's list of aliases not yet: the state
    # of a set_alias() between its two writes, or of one that died there.
    interface = repository.create_backend_interface()
    with interface.backend:
        text = tmp_path / "alias.yaml"
        text.write_text(_aliases.alias_text(uid))
        interface.put_file(str(text), _layout.alias_path("half-set"), "1.0.0")
    catalog = _ui.Catalog([repository], str(tmp_path / "catalog-cache"))
    client = TestClient(_ui.app(catalog))
    page = client.get(f"/api/models/{uid}").json()
    assert page["aliases"] == audmodel.aliases(uid) == ["stable"]


def test_every_page_and_table_shows_dates_sizes_and_parameters_one_way(
    browser, request, tmp_path, monkeypatch, capsys
):
    from audmodel._cli import main

    repository = make_file_system_repository(request, tmp_path, "models")
    monkeypatch.setattr(audmodel.config, "REPOSITORIES", [repository])
    root = tmp_path / "wide"
    root.mkdir()
    (root / "model.onnx").write_bytes(os.urandom(4096))
    (root / "README.MD").write_text("# Wide model\n")
    published = ["task", "rate", "alpha", "batch", "optimizer", "schedule"]
    uids = []
    for index in range(3):
        params = {key: f"{key}-value-{index}-" + "x" * 12 for key in published}
        for version in ("1.0.0", "2.0.0"):
            uids.append(
                audmodel.publish(
                    str(root),
                    "wide",
                    params,
                    version,
                    subgroup=f"emotion.cnn.deep{index}.more.levels",
                    date=datetime.date(2024, 5, 1 + index),
                )
            )
    catalog = _ui.Catalog([repository], str(tmp_path / "catalog-cache"))
    uid = uids[1]
    lines_of = "e => { const r = document.createRange(); r.selectNodeContents(e); "
    lines_of += "return new Set([...r.getClientRects()].map(b => b.top)).size; }"
    with _ui.running(catalog) as address:
        for width in (1400, 420):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(address.replace("/models", "/models?name=wide", 1))
            dates = page.locator("td.date")
            assert dates.first.inner_text() == "2024-05-03"
            tree = page.locator("#subgroups ul.tree")
            if width == 1400:
                # The date column keeps each date on one line beside many columns.
                assert all(d.evaluate(lines_of) == 1 for d in dates.all())
                assert tree.is_visible()
            else:
                # The tree is folded: the first model shows on the first screen.
                assert not tree.is_visible()
                assert (
                    page.locator("table.models tbody tr").first.bounding_box()["y"]
                    < 900
                )
                page.click("#subgroups summary")
                assert tree.is_visible()
            page.goto(address.replace("/models", f"/models/{uid}", 1))
            assert "on 2024-05-01" in page.inner_text("p.subtitle")
            keys = page.locator("#parameters th").all_inner_texts()
            assert keys == published
            files = page.inner_text("#files")
            assert "4.0 KiB" in files
            assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", files)
            assert page.text_content("#card h2").startswith("Model card")
            page.goto(
                address.replace("/models", f"/compare?uid={uids[0]}&uid={uid}", 1)
            )
            rows = page.locator("#section-parameters th.key").all_inner_texts()
            assert rows == published
            assert "2024-05-01" in page.inner_text("#section-model")
            assert "4.0 KiB, CRC-32" in page.inner_text("#section-files")
            page.close()
    # The command line's tables use the same formats and order.
    args = ["-r", repository.name, repository.host, repository.backend]
    assert main(["files", uid, *args]) == 0
    out = capsys.readouterr().out
    assert "4.0 KiB" in out and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out)
    assert main(["lookup", "wide", *args]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == published
