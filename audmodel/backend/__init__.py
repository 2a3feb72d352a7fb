"""Backends that audmodel adds to those of audbackend.

Each is a subclass of :class:`audbackend.backend.Base`
and registered in :attr:`audmodel.Repository.backend_registry`.
A backend's module, and with it its library (boto3, dohq-artifactory,
minio), is imported when its class is first asked for: ``import
audmodel`` imports none of them.

"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audmodel import _lazy


# Class name -> module that defines it.
MODULES = {
    "Artifactory": "audmodel.backend._artifactory",
    "FileSystem": "audmodel.backend._filesystem",
    "Minio": "audmodel.backend._minio",
    "S3": "audmodel.backend._s3",
}

__all__ = ["Artifactory", "FileSystem", "Minio", "S3"]

if TYPE_CHECKING:
    from audmodel.backend._artifactory import Artifactory
    from audmodel.backend._filesystem import FileSystem
    from audmodel.backend._minio import Minio
    from audmodel.backend._s3 import S3


def __getattr__(name: str) -> type:
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    backend_class = getattr(_lazy.module(MODULES[name]), name)
    globals()[name] = backend_class  # asked once
    return backend_class


def __dir__() -> list[str]:
    return sorted([*globals(), *MODULES])
