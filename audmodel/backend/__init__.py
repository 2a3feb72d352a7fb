"""Backends that audmodel adds to those of audbackend.

Each is a subclass of :class:`audbackend.backend.Base`
and registered in :attr:`audmodel.Repository.backend_registry`.

"""

from audmodel.backend._artifactory import Artifactory
from audmodel.backend._filesystem import FileSystem
from audmodel.backend._minio import Minio
from audmodel.backend._s3 import S3


__all__ = ["Artifactory", "FileSystem", "Minio", "S3"]
