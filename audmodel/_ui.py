"""The model catalog in the browser: ``audmodel ui``.

A read-only web application over the configured repositories, built on
Starlette and Jinja2 (the optional extra ``audmodel[ui]``). Every page is
plain HTML rendered on the server, and has a JSON twin: the same path with
``?format=json``, or below ``/api/``.

Pages are served from a snapshot of the repositories kept in memory:
which models exist, their headers (from the header index of the cache,
:mod:`audmodel._catalog`), and their aliases. A snapshot older than
:attr:`Catalog.ttl` seconds is taken anew on the next request, so that a
page of 10,000 models is a filter over memory. Meta is asked for on each
model page, as it can change; a model's files are read once, from the end
of its archive, as archives cannot change.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
import contextlib
import dataclasses
import datetime
import errno
import json
import math
import os
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
import urllib.parse
import warnings

from audmodel import _catalog
from audmodel import _ids
from audmodel import _json
from audmodel import _lazy
from audmodel import _load
from audmodel import _output
from audmodel import _trust
from audmodel import _ui_card
from audmodel import _ui_compare
from audmodel import _ui_safety
from audmodel import _yaml
from audmodel import errors
from audmodel._defaults import CATALOG_HOST
from audmodel._defaults import CATALOG_PORT
from audmodel._lazy import audbackend
from audmodel._lazy import audeer
from audmodel._repository import Repository
from audmodel.backend._common import backend_error_detail
from audmodel.backend._common import without_userinfo


if TYPE_CHECKING:  # the extra 'ui'
    import webbrowser

    import jinja2
    from starlette import applications
    from starlette import responses
    from starlette import routing
    from starlette import staticfiles
    from starlette.requests import Request
    from starlette.responses import Response
    import uvicorn
else:  # imported when the catalog starts (see audmodel._lazy)
    applications = _lazy.module("starlette.applications", globals())
    jinja2 = _lazy.module("jinja2", globals())
    responses = _lazy.module("starlette.responses", globals())
    routing = _lazy.module("starlette.routing", globals())
    staticfiles = _lazy.module("starlette.staticfiles", globals())
    uvicorn = _lazy.module("uvicorn", globals())
    webbrowser = _lazy.module("webbrowser", globals())


PAGE_SIZE = 50
REFRESH_INTERVAL = 10.0
r"""Seconds a snapshot is kept at least, whatever asks for a new one."""
MISSING_EXTRA = (
    "The catalog needs the optional extra 'ui' (Starlette, uvicorn, Jinja2, "
    "markdown-it-py, nh3): "
    "pip install -e '.[ui]' in a clone of audmodel, or install its wheel "
    "with the extra, see the README's 'Installing'."
)


# --- what the pages show ------------------------------------------------------------


@dataclasses.dataclass
class Entry:
    r"""A short ID: all versions of one model, the latest first."""

    short_id: str
    models: list[_catalog.Model]  # newest version first
    aliases: list[str]

    @property
    def latest(self) -> _catalog.Model:
        return self.models[0]

    def row(self) -> dict[str, Any]:
        r"""The entry as one row of the models page."""
        header = self.latest.header
        return {
            "short_id": self.short_id,
            "uid": self.latest.uid,
            "name": header["name"],
            "subgroup": header.get("subgroup") or "",
            "versions": [model.version for model in self.models],
            "date": _text(header.get("date")),
            "author": _text(header.get("author")),
            "aliases": self.aliases,
            "parameters": _json.plain(header.get("parameters") or {}),
            "repository": _repository_info(self.latest.repository)["name"],
        }


@dataclasses.dataclass
class Snapshot:
    r"""The repositories at one moment."""

    entries: dict[str, Entry]  # by short ID
    broken: dict[str, tuple[str, str]]  # uid -> repository name, reason
    errors: dict[str, str]  # repository name -> why it cannot be read
    aliases: dict[str, str]  # alias -> uid
    taken: float  # time.monotonic()
    taken_at: str = ""  # when, in UTC, for people

    def model(self, uid: str) -> _catalog.Model | None:
        r"""A model version, or the latest version of a short ID."""
        short_id, _, version = uid.partition("-")
        entry = self.entries.get(short_id)
        if entry is None:
            return None
        if not version:
            return entry.latest
        return next((m for m in entry.models if m.version == version), None)


class Catalog:
    r"""Snapshots of repositories, taken anew when older than ``ttl`` seconds.

    Args:
        repositories: repositories to show, searched in this order
        cache_root: cache folder, for the header index
        ttl: seconds a snapshot is served
        shared: a shared cache, read for headers and meta, never written

    """

    def __init__(
        self,
        repositories: list[Repository],
        cache_root: str,
        ttl: float = 30.0,
        shared: str | None = None,
    ):
        self.repositories = list(repositories)
        self.cache_root = cache_root
        self.shared = shared
        self.ttl = ttl
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._files: dict[str, list] = {}
        self._cards: dict[str, _ui_card.Card | None] = {}
        self._card_lock = threading.Lock()

    def snapshot(self, refresh: bool = False) -> Snapshot:
        r"""The current snapshot, taken anew if it is too old.

        Args:
            refresh: take a new one unless the current one is younger than
                :data:`REFRESH_INTERVAL` seconds (so that a page cannot make
                the server list the repositories on every request)

        """
        with self._lock:
            current = self._snapshot
            age = math.inf if current is None else time.monotonic() - current.taken
            if (
                current is None
                or age > self.ttl
                or (refresh and age >= REFRESH_INTERVAL)
            ):
                current = self._snapshot = self._take()
            return current

    def files(self, model: _catalog.Model) -> list:
        r"""Entries of a model's archive, read once."""
        if model.uid not in self._files:
            self._files[model.uid] = _load.archive_entries(
                model.model_id,
                self.cache_root,
                model.repository,
                self.shared,
            )
        return self._files[model.uid]

    def card(self, model: _catalog.Model) -> _ui_card.Card | None:
        r"""A model's README, read once: only its entry, and only if small."""
        # One at a time: many requests for a new page render it once.
        with self._card_lock:
            if model.uid not in self._cards:
                entry = _ui_card.find_readme(self.files(model))
                self._cards[model.uid] = (
                    None
                    if entry is None
                    else _ui_card.card(entry, lambda: self.readme(model, entry))
                )
            return self._cards[model.uid]

    def readme(self, model: _catalog.Model, entry: Any) -> bytes:
        r"""The bytes of a README entry, read from the archive by ranges."""
        return _load.archive_member(
            model.model_id,
            self.cache_root,
            entry,
            model.repository,
            self.shared,
        )

    def _take(self) -> Snapshot:
        owners: dict[str, Repository] = {}
        errors: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for repository in self.repositories:
            try:
                uids = _catalog.listed_uids(repository)
                found = _catalog.listed_aliases(repository)
            except audbackend.BackendError as ex:
                errors[repository.name] = backend_error_detail(ex)
                continue
            for uid in uids:
                owners.setdefault(uid, repository)
            for alias, uid in found.items():
                aliases.setdefault(alias, uid)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            headers = _catalog.headers(owners, self.cache_root, self.shared)
        reasons = [str(warning.message) for warning in caught]
        broken = {
            uid: (repository.name, _reason(uid, reasons))
            for uid, repository in owners.items()
            if uid not in headers
        }
        models = [
            _catalog.Model(uid, repository, headers[uid])
            for uid, repository in owners.items()
            if uid in headers
        ]
        now = datetime.datetime.now(datetime.timezone.utc)
        return Snapshot(
            _entries(models, aliases),
            broken,
            errors,
            aliases,
            time.monotonic(),
            now.isoformat(timespec="seconds"),
        )


def _reason(uid: str, messages: list[str]) -> str:
    return next((m for m in messages if f"'{uid}'" in m), "its header cannot be read")


def _entries(models: list[_catalog.Model], aliases: dict[str, str]) -> dict:
    by_uid: dict[str, list[str]] = {}
    for alias, uid in sorted(aliases.items()):
        by_uid.setdefault(uid, []).append(alias)
    groups: dict[str, list[_catalog.Model]] = {}
    for model in models:
        groups.setdefault(model.short_id, []).append(model)
    entries = {}
    for short_id, group in groups.items():
        order = audeer.sort_versions([m.version for m in group])
        group.sort(key=lambda m: order.index(m.version), reverse=True)
        names = [a for m in group for a in by_uid.get(m.uid, [])]
        entries[short_id] = Entry(short_id, group, names)
    return entries


# --- pages as data -------------------------------------------------------------------


def models_page(snapshot: Snapshot, query: dict[str, Any]) -> dict[str, object]:
    r"""Rows of the models page that match ``query``, one page of them."""
    typed = str(query.get("q") or "").strip()
    text = typed.lower()  # matched without case, shown as typed
    name = query.get("name") or None
    subgroup = query.get("subgroup") or None
    params, filter_errors = _params(query.get("param") or [])
    # Chosen as audmodel.available() chooses, from each model's latest version.
    chosen = _catalog.select(
        [entry.latest for entry in snapshot.entries.values()],
        name=name,
        subgroup=subgroup,
        params=params,
    )
    rows = [
        row
        for row in (snapshot.entries[model.short_id].row() for model in chosen)
        if not text or text in _haystack(row)
    ]
    # Narrowed to a name or subgroup, the parameters that tell the rows
    # apart become columns, as in the lookup table.
    columns = _differing_parameters(rows) if name or subgroup else []
    for row in rows:
        row["columns"] = [row["parameters"].get(column) for column in columns]
    sort = query.get("sort") or "date"
    _sort(rows, sort)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = min(max(1, _int(query.get("page"), 1)), pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return {
        "query": {
            "q": typed,
            "name": name,
            "subgroup": subgroup,
            "param": [f"{k}={_yaml_value(v)}" for k, v in params.items()],
            "sort": sort,
        },
        "searched": _searched(typed, name, subgroup, params),
        "columns": columns,
        "filter_errors": filter_errors,
        "total": len(rows),
        "page": page,
        "pages": pages,
        "models": shown,
        "broken": [
            {"uid": uid, "repository": repository, "reason": reason}
            for uid, (repository, reason) in sorted(snapshot.broken.items())
        ],
        "names": sorted(
            {entry.latest.header["name"] for entry in snapshot.entries.values()}
        ),
        "subgroups": _tree(
            entry.latest.header.get("subgroup") or ""
            for entry in snapshot.entries.values()
        ),
        "errors": snapshot.errors,
    }


def _sort(rows: list[dict], by: str) -> None:
    r"""Sort rows by name, by a parameter (``param:KEY``), or newest first."""
    if by == "name":
        rows.sort(key=lambda r: (r["name"], r["subgroup"], r["short_id"]))
    elif by.startswith("param:"):
        key = by.removeprefix("param:")
        rows.sort(key=lambda r: (_order(r["parameters"].get(key)), r["short_id"]))
    else:
        rows.sort(key=lambda r: (r["date"] or "", r["short_id"]), reverse=True)


def _order(value: object) -> tuple:
    r"""A sort key for parameter values of any type: numbers, then text, missing last.

    Examples:
        >>> sorted([None, "b", 2, 10, "a"], key=_order)
        [2, 10, 'a', 'b', None]

    """
    if value is None:
        return (2, 0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def _differing_parameters(rows: list[dict]) -> list[str]:
    r"""Parameter names whose values are not the same in all rows, as published."""
    names = _output.in_order_given(row["parameters"] for row in rows)
    return [
        name
        for name in names
        if _ui_compare.differs([row["parameters"].get(name) for row in rows])
    ]


def model_page(catalog: Catalog, snapshot: Snapshot, uid: str) -> dict[str, object]:
    r"""Everything about one model version.

    Raises:
        KeyError: if the model is not in the catalog

    """
    model = snapshot.model(uid)
    if model is None:
        if uid in snapshot.broken:
            repository, reason = snapshot.broken[uid]
            return {"uid": uid, "broken": reason, "repository": repository}
        raise KeyError(uid)
    entry = snapshot.entries[model.short_id]
    header = _json.plain(model.header)
    page: dict[str, object] = {
        "uid": model.uid,
        "short_id": model.short_id,
        "header": header,
        "parameters": header.get("parameters") or {},
        "versions": [
            {"uid": m.uid, "version": m.version, "date": _text(m.header.get("date"))}
            for m in entry.models
        ],
        "aliases": _aliases_of(model, snapshot),
        "repository": _repository_info(model.repository),
        "errors": snapshot.errors,
        "snippets": {
            "python": f'audmodel.load("{model.uid}")',
            "shell": f"audmodel load {model.uid} {_repository_args(model.repository)}",
        },
    }
    page["meta"], page["meta_error"] = _guarded(lambda: _meta(catalog, model))
    page["meta_yaml"] = _yaml.dumps(page["meta"]) if page["meta"] else ""
    files, page["files_error"] = _guarded(lambda: catalog.files(model))
    page["files"] = _file_rows(files or [])
    page["signed_by"], page["signature_error"] = _guarded(
        lambda: _trust.signer(
            _ids.ModelId(model.short_id, model.version),
            catalog.cache_root,
            catalog.shared,
            model.repository,
        )
    )
    card, page["card_error"] = _guarded(lambda: catalog.card(model))
    page["card"] = card and dataclasses.asdict(card)
    page["url"], _ = _guarded(
        lambda: _load.url(
            model.model_id,
            catalog.cache_root,
            repository=model.repository,
            shared=catalog.shared,
        )
    )
    return page


def _aliases_of(model: _catalog.Model, snapshot: Snapshot) -> list[str]:
    r"""A model's aliases as :func:`audmodel.aliases` gives them.

    Where its aliases file cannot be read, those the snapshot's alias
    files name.

    """
    found, _ = _guarded(lambda: _catalog.aliases_of(model, snapshot.aliases))
    if found is None:
        return sorted(a for a, u in snapshot.aliases.items() if u == model.uid)
    return found


def compare_page(
    catalog: Catalog, snapshot: Snapshot, asked: list[str]
) -> dict[str, object]:
    r"""Two or more models side by side, see :mod:`audmodel._ui_compare`.

    Args:
        catalog: the catalog, for meta and files
        snapshot: its snapshot
        asked: IDs, short IDs (their latest version) or aliases

    Raises:
        ValueError: if fewer than two or too many models are asked for
        KeyError: if one of them is not in the catalog

    """
    models = []
    for uid in _ui_compare.chosen(asked):
        model = snapshot.model(snapshot.aliases.get(uid, uid))
        if model is None:
            raise KeyError(uid)
        models.append(model)
    sides = [_side(catalog, model) for model in models]
    return {**_ui_compare.compare(sides), "errors": snapshot.errors}


def _side(catalog: Catalog, model: _catalog.Model) -> _ui_compare.Side:
    r"""One model of a comparison, with what of it could not be read."""
    meta, meta_error = _guarded(lambda: _meta(catalog, model))
    files, files_error = _guarded(lambda: catalog.files(model))
    problems = [
        f"its {what} cannot be read: {error}"
        for what, error in (("meta", meta_error), ("files", files_error))
        if error
    ]
    return _ui_compare.Side(
        model.uid,
        _json.plain(model.header),
        meta,
        None if files is None else {f["path"]: f for f in _file_rows(files)},
        problems,
    )


def _meta(catalog: Catalog, model: _catalog.Model) -> dict[str, Any]:
    r"""A model's meta as it is now, as plain JSON values."""
    return _json.plain(
        _load.meta(
            model.model_id,
            catalog.cache_root,
            model.repository,
            catalog.shared,
        )
    )


def _file_rows(entries: list) -> list[dict[str, Any]]:
    r"""The files of an archive, as the pages show them."""
    return [
        {
            "path": e.filename,
            "size": e.file_size,
            "modified": datetime.datetime(*e.date_time).isoformat(),
            "crc32": f"{e.CRC:08x}",
        }
        for e in entries
        if not e.is_dir()
    ]


def lookup_page(snapshot: Snapshot, name: str, query: dict) -> dict[str, object]:
    r"""The lookup table of a name: one row per model, one column per parameter."""
    models = [m for entry in snapshot.entries.values() for m in entry.models]
    chosen = _catalog.select(
        models,
        name=name,
        subgroup=query.get("subgroup") or None,
        version=query.get("version") or None,
    )
    columns = _output.in_order_given(m.header.get("parameters") for m in chosen)
    rows = [
        {
            "uid": m.uid,
            "values": [
                _json.plain((m.header.get("parameters") or {}).get(column))
                for column in columns
            ],
        }
        for m in chosen
    ]
    return {
        "name": name,
        "query": {
            "subgroup": query.get("subgroup") or None,
            "version": query.get("version") or None,
        },
        "columns": columns,
        "rows": rows,
        "errors": snapshot.errors,
    }


def _guarded(function: Callable[[], Any]) -> tuple[Any, str | None]:
    r"""The result of ``function``, or ``None`` and why it failed."""
    try:
        return function(), None
    except audbackend.BackendError as ex:
        return None, backend_error_detail(ex)
    except Exception as ex:
        return None, str(ex)


def _params(items: list[str] | str) -> tuple[dict[str, object], list[str]]:
    r"""``key=value`` filters, and what is wrong with those that are not.

    The value is read as one YAML scalar. Any web page can send a request
    to a catalog on this machine, so nothing but a short plain value is
    parsed (see :func:`_yaml.read_scalar`); another value is compared as
    text, and the user told so.

    """
    if isinstance(items, str):
        items = [items]
    params: dict[str, object] = {}
    errors = []
    for item in items:
        key, separator, value = str(item).partition("=")
        if not separator or not key.strip():
            errors.append(f"'{item}' is no filter: write it as KEY=VALUE.")
            continue
        try:
            params[key.strip()] = _yaml.read_scalar(value)
        except ValueError as ex:
            params[key.strip()] = value
            errors.append(f"'{item}': {ex} It is compared as text.")
    return params, errors


def _searched(
    text: str, name: str | None, subgroup: str | None, params: dict[str, object]
) -> str:
    r"""What a models page was asked for, in words; empty for all models."""
    parts = [f"'{text}'"] if text else []
    parts += [f"name {name}"] if name else []
    parts += [f"subgroup {subgroup}"] if subgroup else []
    parts += [f"{k}={_yaml_value(v)}" for k, v in params.items()]
    return ", ".join(parts)


def _haystack(row: dict) -> str:
    words = [row["short_id"], row["name"], row["subgroup"], row["author"] or ""]
    words += row["aliases"]
    words += [f"{k}={v}" for k, v in row["parameters"].items()]
    return " ".join(str(word) for word in words).lower()


def _tree(subgroups) -> list[dict]:
    r"""The subgroup tree: each node with its full path and its model count."""
    counts: dict[str, int] = {}
    for subgroup in subgroups:
        parts = [p for p in subgroup.split(".") if p]
        for depth in range(1, len(parts) + 1):
            path = ".".join(parts[:depth])
            counts[path] = counts.get(path, 0) + 1
    return [
        {
            "path": path,
            "label": path.rsplit(".", 1)[-1],
            "depth": path.count("."),
            "count": n,
        }
        for path, n in sorted(counts.items())
    ]


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _text(value: object) -> str | None:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return None if value is None else str(value)


def _yaml_value(value: object) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _repository_info(repository: Repository | None) -> dict[str, str]:
    # The catalog lists repositories, so its models always have one.
    if repository is None:
        return {"name": "", "host": "", "backend": ""}
    return {
        "name": repository.name,
        "host": without_userinfo(repository.host),
        "backend": repository.backend,
    }


def _repository_args(repository: Repository | None) -> str:
    info = _repository_info(repository)
    return f"-r {info['name']} {info['host']} {info['backend']}"


# --- the web application -------------------------------------------------------------


def app(catalog: Catalog, hosts: frozenset[str] | None = None):
    r"""The application of a catalog, behind its :class:`_ui_safety.Guard`.

    Args:
        catalog: the catalog
        hosts: host names to answer to (see
            :func:`audmodel._ui_safety.allowed_hosts`); ``None``: any,
            for an application called in the same process

    Raises:
        ImportError: if the extra ``ui`` is not installed, saying which

    """
    # markdown_it and nh3 render model cards; imported here so that a
    # missing one is named when the catalog starts, not on a model page.
    try:
        _lazy.load(
            _lazy.markdown_it, _lazy.nh3, applications, routing, staticfiles, jinja2
        )
        site = _Site(catalog)
    except ImportError as ex:
        raise errors.ExtraMissingError(MISSING_EXTRA) from ex
    route = routing.Route
    pages = [
        route("/models", site.models),
        route("/models/{uid}", site.model),
        route("/models/{uid}/readme", site.readme),
        route("/aliases/{alias}", site.alias),
        route("/lookup/{name}", site.lookup),
        route("/compare", site.compare),
    ]
    static = os.path.join(os.path.dirname(__file__), "static")
    application = applications.Starlette(
        exception_handlers={code: site.failed for code in (400, 404, 405, Exception)},
        routes=[
            route("/", site.home),
            *pages,
            routing.Mount("/api", routes=pages),
            routing.Mount("/static", staticfiles.StaticFiles(directory=static)),
        ],
    )
    return _ui_safety.Guard(application, hosts)


class _Site:
    r"""The catalog's pages: one method per route, each page or its JSON twin.

    Raises:
        ImportError: if Jinja2 or Starlette is missing

    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.responses = responses
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(
                os.path.join(os.path.dirname(__file__), "templates")
            ),
            autoescape=True,  # every name, parameter and meta value is escaped
        )
        self.templates.filters["size"] = _output.human_size
        self.templates.filters["when"] = _output.human_time
        self.templates.filters["query"] = _query_string

    # --- pages ---

    def models(self, request: Request) -> Response:
        data = models_page(self.snapshot(request), _query(request))
        return self.respond(request, "models.html", data)

    def model(self, request: Request) -> Response:
        uid = request.path_params["uid"]
        try:
            data = model_page(self.catalog, self.snapshot(request), uid)
        except KeyError:
            return self.missing(request, f"model '{uid}'")
        return self.respond(request, "model.html", data)

    def readme(self, request: Request) -> Response:
        r"""A model's README as it is stored, as plain text that cannot run."""
        uid = request.path_params["uid"]
        model = self.snapshot(request).model(uid)
        card = None if model is None else self.catalog.card(model)
        if model is None or card is None:
            return self.missing(request, f"README of a model '{uid}'")
        if card.size > _ui_card.RAW_LIMIT:
            detail = (
                f"{card.file} has {_output.human_size(card.size)}, more than the "
                f"catalog sends; load the model to read it: audmodel load {uid}"
            )
            return self.error(request, 413, "README too large", detail)
        entry = _ui_card.find_readme(self.catalog.files(model))
        data = self.catalog.readme(model, entry)
        return self.responses.Response(data, media_type="text/plain; charset=utf-8")

    def alias(self, request: Request) -> Response:
        name = request.path_params["alias"]
        uid = self.snapshot(request).aliases.get(name)
        if uid is None:
            return self.missing(request, f"alias '{name}'")
        prefix = "/api" if request.url.path.startswith("/api/") else ""
        target = f"{prefix}/models/{uid}"
        if request.query_params.get("format") == "json":
            target += "?format=json"
        return self.responses.RedirectResponse(target, status_code=307)

    def lookup(self, request: Request) -> Response:
        name = request.path_params["name"]
        snapshot = self.snapshot(request)
        models = (m for entry in snapshot.entries.values() for m in entry.models)
        if all(model.header["name"] != name for model in models):
            return self.missing(request, f"model named '{name}'")
        data = lookup_page(snapshot, name, _query(request))
        return self.respond(request, "lookup.html", data)

    def compare(self, request: Request) -> Response:
        asked = request.query_params.getlist("uid")
        try:
            data = compare_page(self.catalog, self.snapshot(request), asked)
        except ValueError as ex:
            return self.error(request, 400, "Nothing to compare", str(ex))
        except KeyError as ex:
            return self.missing(request, f"model '{ex.args[0]}'")
        return self.respond(request, "compare.html", data)

    def home(self, request: Request) -> Response:
        return self.responses.RedirectResponse("/models", status_code=307)

    # --- answers ---

    def snapshot(self, request: Request) -> Snapshot:
        r"""The catalog's snapshot, taken anew for ``?refresh=1`` (rate-limited)."""
        return self.catalog.snapshot(refresh=request.query_params.get("refresh") == "1")

    def respond(
        self, request: Request, template: str, data: dict, status: int = 200
    ) -> Response:
        r"""The page, or its JSON twin under ``/api/`` or with ``?format=json``.

        Each says when the snapshot it shows was taken.

        """
        taken = self.catalog.snapshot().taken_at
        data = {**data, "snapshot": {"taken": taken, "kept": self.catalog.ttl}}
        wants_json = request.url.path.startswith("/api/") or (
            request.query_params.get("format") == "json"
        )
        if wants_json:
            return self.responses.JSONResponse(data, status_code=status)
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "refresh"]
        refresh = urllib.parse.urlencode([*kept, ("refresh", "1")])
        path = _route_path(request)
        page = self.templates.get_template(template).render(
            data=data, request_path=path, refresh_link=f"{path}?{refresh}"
        )
        return self.responses.HTMLResponse(page, status_code=status)

    def error(self, request: Request, status: int, title: str, detail: str) -> Response:
        r"""An error page; its JSON twin is ``{"error": ..., "detail": ...}``."""
        data = {"error": title, "detail": detail}
        return self.respond(request, "error.html", data, status=status)

    def missing(self, request: Request, what: str) -> Response:
        detail = f"There is no {what} in the repositories of this catalog."
        return self.error(request, 404, "Not found", detail)

    async def failed(self, request: Request, ex: Exception) -> Response:
        r"""What an error raised while answering becomes."""
        status = getattr(ex, "status_code", 500)
        if status == 404:
            return self.missing(request, f"page '{request.url.path}'")
        if status == 405:
            detail = f"{request.method} is not answered: the catalog only shows."
            return self.error(request, 405, "Method not allowed", detail)
        if status < 500:
            detail = str(getattr(ex, "detail", ex))
            return self.error(request, status, "Bad request", detail)
        detail = f"The page could not be made: {type(ex).__name__}: {ex}"
        return self.error(request, 500, "Server error", detail)


def _route_path(request: Request) -> str:
    r"""The path of the page answered, built from its route, never from the request.

    A request's path is what the client sent: ``//evil.example/login`` put
    into a link would lead off the site. A request no route answers (a
    404 page) gets the list of models.

    """
    route = request.scope.get("route")
    if route is None or not hasattr(route, "url_path_for"):
        return "/models"
    try:
        return str(route.url_path_for(route.name, **request.path_params))
    except Exception:  # a route that cannot be built back: the list
        return "/models"


def _query(request: Request) -> dict[str, Any]:
    r"""A request's query, with ``param`` as the list of all given."""
    values: dict[str, Any] = dict(request.query_params)
    values["param"] = request.query_params.getlist("param")
    return values


def serve(
    catalog: Catalog,
    host: str = CATALOG_HOST,
    port: int = CATALOG_PORT,
    open_browser: bool = False,
    allow_hosts: Iterable[str] = (),
) -> None:
    r"""Serve a catalog until interrupted.

    Args:
        catalog: the catalog
        host: address to listen on
        port: port to listen on
        open_browser: open the models page in a browser
        allow_hosts: host names to answer to besides ``host`` and
            ``localhost``

    Raises:
        ImportError: if the extra ``ui`` is not installed, saying which
        RuntimeError: if the port is taken or the address unusable

    """
    try:
        _lazy.load(uvicorn)
    except ImportError as ex:
        raise errors.ExtraMissingError(MISSING_EXTRA) from ex
    application = app(catalog, _ui_safety.allowed_hosts(host, allow_hosts))
    if not _ui_safety.is_loopback(host):
        print(
            f"Warning: the catalog listens on {host}, not only on this machine. "
            "It has no authentication: whoever reaches the port sees every "
            "model, its meta and its files.",
            file=sys.stderr,
            flush=True,
        )
    listening = _listen(host, port)
    address = f"http://{host}:{port}/models"
    print(f"audmodel catalog on {address} (Ctrl+C stops it)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, [address]).start()
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning"))
    server.run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    r"""A socket listening on ``host`` and ``port`` (0: any free port).

    Raises:
        RuntimeError: if the port is taken or the address cannot be used,
            saying what to do

    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(128)
    except OSError as ex:
        listening.close()
        if ex.errno == errno.EADDRINUSE:
            raise errors.CatalogError(
                f"Port {port} on {host} is taken by another program: "
                f"choose another with --port, e.g. --port {port + 1}."
            ) from None
        raise errors.CatalogError(
            f"Cannot listen on {host}:{port}: {ex.strerror or ex}. "
            "Check the address given with --host."
        ) from None
    return listening


@contextlib.contextmanager
def running(catalog: Catalog, host: str = CATALOG_HOST) -> Iterator[str]:
    r"""Serve a catalog in a thread for the time of a ``with`` block.

    For notebooks, tests and the documentation's screenshots.

    Yields:
        the address of the models page

    Raises:
        ImportError: if the extra ``ui`` is not installed, saying which

    """
    try:
        _lazy.load(uvicorn)
    except ImportError as ex:
        raise errors.ExtraMissingError(MISSING_EXTRA) from ex
    listening = _listen(host, 0)
    port = listening.getsockname()[1]
    hosts = _ui_safety.allowed_hosts(host)
    server = uvicorn.Server(uvicorn.Config(app(catalog, hosts), log_level="warning"))
    thread = threading.Thread(target=server.run, args=([listening],), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise errors.CatalogError(f"The catalog did not start on {host}:{port}.")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}/models"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _query_string(query: dict, **changes: object) -> str:
    r"""The query string of a page with some values changed."""
    merged = {**query, **changes}
    pairs = []
    for key, value in merged.items():
        values = value if isinstance(value, list) else [value]
        pairs += [(key, v) for v in values if v not in (None, "")]
    return "?" + urllib.parse.urlencode(pairs)
