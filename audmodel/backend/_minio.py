"""audbackend's MinIO backend, also reachable by an endpoint URL."""

from __future__ import annotations

import urllib.parse

import audbackend


class Minio(audbackend.backend.Minio):
    r"""audbackend's MinIO backend, for existing audbackend configurations.

    A host given as a bare name, e.g. ``play.min.io``, is passed on as it is,
    so credentials and the ``secure`` setting come from audbackend's
    configuration as before.
    A host given as a URL, e.g. ``http://127.0.0.1:9000``,
    sets ``secure`` from its scheme.

    Args:
        host: host name or endpoint URL
        repository: bucket name
        authentication: access key and secret key;
            audbackend looks them up if ``None``
        secure: use HTTPS; from the URL or audbackend's configuration if ``None``
        **kwargs: passed on to :class:`audbackend.backend.Minio`

    """

    def __init__(
        self,
        host: str,
        repository: str,
        *,
        authentication: tuple[str, str] | None = None,
        secure: bool | None = None,
        **kwargs: object,
    ):
        endpoint = host
        if "://" in host:
            parts = urllib.parse.urlsplit(host)
            endpoint = parts.netloc
            if secure is None:
                secure = parts.scheme == "https"
        super().__init__(
            endpoint, repository, authentication=authentication, secure=secure, **kwargs
        )
        self.host = host

    def __repr__(self) -> str:
        return f"audmodel.backend.Minio('{self.host}', '{self.repository}')"
