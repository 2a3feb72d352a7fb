"""Publish, version and load machine-learning models.

Storage-compatible with audmodel 1.5: repositories and caches written by
either library are read by the other.

The public names are looked up in the module that defines them when first
used (``audmodel.load``, ``from audmodel import load``), so that ``import
audmodel`` and the command line's ``--help`` take a few milliseconds; the
first call pays for the library it needs (see ``audmodel/_lazy.py``).

"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from audmodel import _lazy


if TYPE_CHECKING:
    from audmodel._api import aliases
    from audmodel._api import author
    from audmodel._api import available
    from audmodel._api import cached
    from audmodel._api import check
    from audmodel._api import copy
    from audmodel._api import date
    from audmodel._api import default_cache_root
    from audmodel._api import exists
    from audmodel._api import files
    from audmodel._api import header
    from audmodel._api import latest_version
    from audmodel._api import legacy_uid
    from audmodel._api import load
    from audmodel._api import lookup_table
    from audmodel._api import meta
    from audmodel._api import name
    from audmodel._api import parameters
    from audmodel._api import publish
    from audmodel._api import remove
    from audmodel._api import remove_alias
    from audmodel._api import remove_cached
    from audmodel._api import repository
    from audmodel._api import resolve_alias
    from audmodel._api import set_alias
    from audmodel._api import subgroup
    from audmodel._api import uid
    from audmodel._api import update_meta
    from audmodel._api import url
    from audmodel._api import verify_cached
    from audmodel._api import version
    from audmodel._api import versions
    from audmodel._config import config
    from audmodel._repository import Repository


# Each public name and the module that defines it.
_PUBLIC = {
    **dict.fromkeys(
        [
            "aliases",
            "author",
            "available",
            "cached",
            "check",
            "copy",
            "date",
            "default_cache_root",
            "exists",
            "files",
            "header",
            "latest_version",
            "legacy_uid",
            "load",
            "load_file",
            "lookup_table",
            "meta",
            "name",
            "parameters",
            "publish",
            "remove",
            "remove_alias",
            "remove_cached",
            "repository",
            "resolve_alias",
            "set_alias",
            "signature",
            "subgroup",
            "uid",
            "update_meta",
            "url",
            "verify_cached",
            "verify_signature",
            "version",
            "versions",
        ],
        "audmodel._api",
    ),
    "config": "audmodel._config",
    "Repository": "audmodel._repository",
}

# Like audmodel 1.5: 'from audmodel import *' imports nothing.
__all__: list[str] = []


def __getattr__(attribute: str) -> Any:
    if attribute == "__version__":
        value: Any = _version()
    elif attribute in _PUBLIC:
        value = getattr(_lazy.module(_PUBLIC[attribute]), attribute)
    else:
        raise AttributeError(f"module 'audmodel' has no attribute '{attribute}'")
    globals()[attribute] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC, "__version__"})


def _version() -> str:
    # Read from the installed package's metadata when first asked for:
    # importlib.metadata takes longer to import than audmodel.
    try:
        return _lazy.metadata.version(__name__)
    except Exception:  # pragma: no cover - running from a source tree
        return "unknown"
