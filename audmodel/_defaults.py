"""Defaults that the public functions, the command line and the catalog share.

Each is stated once, here; a signature, an option's default and a help
text take it from this module.
"""

from __future__ import annotations


LOAD_TIMEOUT = 14400
r"""Seconds :func:`audmodel.load` waits for the cache lock (4 hours)."""

COMPRESSION = "auto"
r"""Compression of :func:`audmodel.publish`: store what deflate barely shrinks."""

URL_TYPES = ("model", "header", "meta")
r"""What :func:`audmodel.url` can point to."""

CATALOG_HOST = "127.0.0.1"
r"""Address the catalog listens on: this machine only."""

CATALOG_PORT = 8765
r"""Port the catalog listens on."""
