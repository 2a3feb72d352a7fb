"""Repositories: where models are stored, and the backend that reaches them."""

from __future__ import annotations

import audbackend

from audmodel import _layout
from audmodel import backend
from audmodel.backend._common import check_host
from audmodel.backend._common import without_userinfo


def _default_backends() -> dict[str, type[audbackend.backend.Base]]:
    return {
        "artifactory": backend.Artifactory,
        "file-system": backend.FileSystem,
        "minio": backend.Minio,
        "s3": backend.S3,
    }


class _Interface(audbackend.interface.Maven):
    r"""audbackend's Maven interface, refusing paths that leave the repository.

    Every versioned path of the interface's methods is built by
    :func:`audmodel._layout.versioned`, so a short ID, name, subgroup or
    version read from storage cannot reach another repository (``..`` in an
    S3 key or an Artifactory URL) or a folder above a file-system
    repository.

    """

    def _path_with_version(self, path: str, version: str) -> str:
        return _layout.versioned(path, version, repr(self.backend))


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
            raise ValueError(f"'{self.backend}' is not a registered backend")
        backend_class = self.backend_registry[self.backend]
        return _Interface(
            backend_class(self.host, self.name),
            extensions=list(_layout.EXTENSIONS),
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
