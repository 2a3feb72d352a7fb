"""Libraries imported when first used, so that ``import audmodel`` stays fast.

``import audmodel`` must not pay for what a call may never need: audbackend's
package imports its MinIO client and a streaming unzipper, audeer its
progress bars and web helpers, filelock and PyYAML their own load, and
``concurrent.futures`` the logging package. The modules named here are
stand-ins that a module of ours imports from here; the library is imported
at the first attribute looked up on one. Rooms of ours that only some
functions need are made stand-ins the same way where they are imported
(``_api``, ``_store``, ``_cache``, ``_load``, ``_cli``), and so are the
public names of the package (``audmodel/__init__.py``) and its backends
(``audmodel/backend/__init__.py``). This is the one way the package defers
an import: no function imports anything itself
(``tests/test_code.py`` holds the line). A backend's own
library (boto3, dohq-artifactory, minio) is imported only by its backend
module, when a repository of that kind is first opened (see
:mod:`audmodel.backend`).

Examples:
    >>> audbackend.BackendError.__name__
    'BackendError'

"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING
from typing import Any


class _Deferred(types.ModuleType):
    r"""Stands for a module until its first use, then hands every look-up to it.

    The import happens through :func:`importlib.import_module`, which holds
    the import system's lock of that module, so threads that use it first
    at the same moment wait for one import instead of seeing half a module
    (as :class:`importlib.util.LazyLoader` lets them before Python 3.12).
    Each look-up goes to the module in :data:`sys.modules`, so an attribute
    replaced there (a test's monkeypatch) is what callers get. Given the
    namespace it is bound in, the stand-in puts the module there in its
    place once imported, so that later look-ups cost nothing extra.

    """

    def __init__(self, name: str, namespace: dict[str, Any] | None = None):
        super().__init__(name)
        self._namespace = namespace

    def __getattr__(self, attribute: str) -> Any:
        # Called only for what the stand-in itself lacks: all but its name.
        # The module in sys.modules is taken as it is once its import has
        # finished; while it runs, import_module waits for it.
        module = sys.modules.get(self.__name__)
        if module is None or getattr(module.__spec__, "_initializing", False):
            module = importlib.import_module(self.__name__)
        if self._namespace is not None:
            for key, value in list(self._namespace.items()):
                if value is self:
                    self._namespace[key] = module
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module '{self.__name__}', imported at its first use>"


def module(name: str, namespace: dict[str, Any] | None = None) -> types.ModuleType:
    r"""A stand-in for the module ``name`` that imports it at its first use.

    Args:
        name: module name
        namespace: the globals of the module the stand-in is bound in;
            the stand-in puts the imported module there in its place

    Returns:
        the stand-in; nothing is imported yet

    Examples:
        >>> json = module("json", globals())
        >>> json.dumps([1])
        '[1]'
        >>> type(json) is type(module("json"))  # now the module itself
        False

    """
    return _Deferred(name, namespace)


def load(*stand_ins: types.ModuleType) -> None:
    r"""Import the modules of stand-ins now, e.g. to name a missing extra early.

    Raises:
        ImportError: if one cannot be imported

    Examples:
        >>> load(module("json"))

    """
    for stand_in in stand_ins:
        importlib.import_module(stand_in.__name__)


if TYPE_CHECKING:
    import concurrent.futures as futures
    import ctypes
    import difflib
    import fcntl
    import importlib.metadata as metadata

    import audbackend
    import audeer
    import filelock
    import flufl.lock as flufl_lock
    import markdown_it
    import nh3
    import oyaml as yaml
    import pandas
else:
    audbackend = module("audbackend")
    audeer = module("audeer")
    filelock = module("filelock")
    flufl_lock = module("flufl.lock")  # leases, where flock does not work
    futures = module("concurrent.futures")  # its logging takes 10 ms
    yaml = module("oyaml")
    pandas = module("pandas")  # the tables the API returns
    markdown_it = module("markdown_it")  # the catalog's extra: model cards
    nh3 = module("nh3")
    ctypes = module("ctypes")  # takes milliseconds, for one call
    difflib = module("difflib")  # hints in errors
    fcntl = module("fcntl")  # POSIX only
    metadata = module("importlib.metadata")  # slower to import than audmodel
