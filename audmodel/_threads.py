"""How many threads each kind of work takes, in one place.

Packing and unpacking are bound by the processor and the disk, so they
take about one thread per core. Reading small files (headers, alias
files) from a repository is bound by each request's round trip, so
more threads than cores pay off there; local reads need none.
"""

from __future__ import annotations

import os


CPU_WORKERS = max(2, min(8, os.cpu_count() or 2))
r"""Threads that pack, unpack or verify files; also the depth of the queues."""

RANGE_READS = 8
r"""Byte ranges of one archive read at once from a repository."""

HEADER_READS = 16
r"""Headers and alias files read at once when models are listed."""

CHECK_READS = 8
r"""Stored files read at once by a repository check."""

VERIFY_READS = 4
r"""Cached model folders verified at once."""

LIST_REQUESTS = 8
r"""Listing requests sent at once to an S3 store."""
