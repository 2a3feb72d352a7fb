"""Publish, version and load machine-learning models.

Storage-compatible with audmodel 1.5: repositories and caches written by
either library are read by the other.

"""

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


# Like audmodel 1.5: 'from audmodel import *' imports nothing.
__all__: list[str] = []


def __getattr__(attribute: str) -> str:
    # The version is read from the installed package's metadata when first
    # asked for: importlib.metadata takes longer to import than audmodel.
    if attribute != "__version__":
        raise AttributeError(f"module 'audmodel' has no attribute '{attribute}'")
    try:
        import importlib.metadata

        version = importlib.metadata.version(__name__)
    except Exception:  # pragma: no cover - running from a source tree
        version = "unknown"
    globals()["__version__"] = version
    return version
