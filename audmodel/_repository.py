"""Repositories: where models are stored, and the backend that reaches them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any

from audmodel import _layout
from audmodel import _lazy
from audmodel import backend
from audmodel import errors
from audmodel._lazy import audbackend
from audmodel._output import did_you_mean
from audmodel.backend._common import check_host
from audmodel.backend._common import without_userinfo


if TYPE_CHECKING:
    from audmodel.backend import _interface

    BackendClass = type[audbackend.backend.Base]
else:  # imports audbackend
    _interface = _lazy.module("audmodel.backend._interface", globals())


class _BackendRegistry(dict):
    r"""Backend classes by name, audmodel's own imported when first looked up.

    A value may be held as the name of a class in :mod:`audmodel.backend`
    until it is read: then the backend's module, and its library (boto3,
    dohq-artifactory, minio), is imported, and the class takes the name's
    place. Reading it in any way (``[]``, ``get``, ``values``, ``items``,
    a copy) gives classes.

    """

    def __getitem__(self, name: str) -> BackendClass:
        value = super().__getitem__(name)
        if isinstance(value, str):
            value = getattr(backend, value)
            super().__setitem__(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def __iter__(self) -> Iterator[str]:
        # Overridden so that dict(registry) and {**registry} read values
        # through __getitem__ rather than copying the names held.
        return iter(list(super().keys()))

    def values(self) -> list[BackendClass]:  # type: ignore[override]
        return [self[name] for name in self]

    def items(self) -> list[tuple[str, BackendClass]]:  # type: ignore[override]
        return [(name, self[name]) for name in self]

    def pop(self, name: str, *default: Any) -> Any:
        if name not in self:
            return super().pop(name, *default)
        value = self[name]
        super().pop(name)
        return value

    def copy(self) -> dict[str, BackendClass]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    __hash__ = None

    def __repr__(self) -> str:
        return repr(dict(self.items()))


def _default_backends() -> _BackendRegistry:
    return _BackendRegistry(
        {
            "artifactory": "Artifactory",
            "file-system": "FileSystem",
            "minio": "Minio",
            "s3": "S3",
        }
    )


class Repository:
    r"""A repository of models.

    A repository is addressed by its name,
    the host that holds it,
    and the name of the backend that talks to the host.

    Args:
        name: repository name, e.g. ``"models"``
        host: host, e.g. a folder for the ``"file-system"`` backend
        backend: backend name, a key of :attr:`Repository.backend_registry`

    Raises:
        ValueError: if ``host`` is a URL that cannot be parsed

    Examples:
        >>> Repository("models", "/data/repositories", "file-system")
        Repository('models', '/data/repositories', 'file-system')

    """

    backend_registry: dict[str, type[audbackend.backend.Base]] = _default_backends()
    r"""Backend classes by backend name.

    Add an entry with :meth:`Repository.register`.

    """

    def __init__(self, name: str, host: str, backend: str):
        self.name = name
        r"""Repository name."""
        self.host = check_host(host)
        r"""Repository host."""
        self.backend = backend
        r"""Backend name."""
        self._source: str | None = None  # where it was configured, for errors

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Repository):
            return self._identity() == other._identity()
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._identity())

    def _identity(self) -> tuple[str, str, str]:
        # With credentials: two users' repositories on one host differ.
        return (self.name, self.host, self.backend)

    def __repr__(self) -> str:
        # A host URL may carry 'user:password@'; error messages show this.
        host = without_userinfo(self.host)
        return f"Repository('{self.name}', '{host}', '{self.backend}')"

    def create_backend_interface(self) -> audbackend.interface.Maven:
        r"""Create the interface to the repository's files.

        The backend inside the interface is not opened yet:
        use it in a ``with`` statement,
        or call its ``open()`` and ``close()`` methods.

        Returns:
            Maven-style interface around a backend of the registered class

        Raises:
            ValueError: if :attr:`Repository.backend` is not registered

        Examples:
            >>> repo = Repository("models", "/data", "file-system")
            >>> repo.create_backend_interface().backend
            audbackend.backend.FileSystem('/data', 'models')

        """
        if self.backend not in self.backend_registry:
            raise errors.ConfigurationError(self._unregistered())
        backend_class = self.backend_registry[self.backend]
        return _interface.Interface(
            backend_class(self.host, self.name),
            extensions=list(_layout.EXTENSIONS),
        )

    def _unregistered(self) -> str:
        r"""Audmodel 1.5's sentence, then where and what could be meant."""
        registered = sorted(self.backend_registry)
        where = f" It is in {self._source}." if self._source else ""
        hint = did_you_mean(self.backend, registered)
        return (
            f"'{self.backend}' is not a registered backend.{where} "
            f"Registered are: {', '.join(registered)}.{hint}"
        )

    @classmethod
    def register(
        cls,
        backend_name: str,
        backend_class: type[audbackend.backend.Base],
    ) -> None:
        r"""Register a backend class under a name.

        Args:
            backend_name: name used in :attr:`Repository.backend`
            backend_class: subclass of :class:`audbackend.backend.Base`

        Examples:
            >>> Repository.register("plain-folder", audbackend.backend.FileSystem)
            >>> Repository("models", "/data", "plain-folder")
            Repository('models', '/data', 'plain-folder')

        """
        cls.backend_registry[backend_name] = backend_class
