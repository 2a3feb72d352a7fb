"""audbackend's Maven interface, with the paths of the storage layout checked."""

from __future__ import annotations

import audbackend

from audmodel import _layout


class Interface(audbackend.interface.Maven):
    r"""audbackend's Maven interface, refusing paths that leave the repository.

    Every versioned path of the interface's methods is built by
    :func:`audmodel._layout.versioned`, so a short ID, name, subgroup or
    version read from storage cannot reach another repository (``..`` in an
    S3 key or an Artifactory URL) or a folder above a file-system
    repository.

    """

    def _path_with_version(self, path: str, version: str) -> str:
        return _layout.versioned(path, version, repr(self.backend))
