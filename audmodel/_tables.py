"""Tables of models and files, as :class:`pandas.DataFrame`.

pandas is imported here, when a table is made, so that ``import audmodel``
stays fast.

"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
import zipfile

from audmodel import _cache
from audmodel import _catalog
from audmodel import _output
from audmodel._lazy import pandas as pd


if TYPE_CHECKING:  # pandas is imported where the first table is made
    import pandas

    from audmodel import _check
    from audmodel._repository import Repository


AVAILABLE_COLUMNS = [
    "name",
    "subgroup",
    "version",
    "author",
    "date",
    "repository",
    "parameters",
]
FILES_COLUMNS = ["size", "modified", "crc32"]
CACHED_COLUMNS = ["name", "subgroup", "version", "path", "size", "last_used", "cache"]
CHECK_COLUMNS = ["problem", "uid", "path", "detail", "action"]
VERIFY_COLUMNS = ["path", "problem"]


def available(models: list[_catalog.Model]) -> pandas.DataFrame:
    r"""One row per model: its header's fields and its repository's name."""
    rows = [
        [
            model.header["name"],
            model.header.get("subgroup") or "",
            model.version,
            model.header.get("author"),
            _date_text(model.header.get("date")),
            model.repository.name if model.repository else None,  # None: offline
            model.header.get("parameters") or {},
        ]
        for model in models
    ]
    return pd.DataFrame(
        rows,
        index=_uid_index([model.uid for model in models]),
        columns=AVAILABLE_COLUMNS,
    )


def lookup_table(models: list[_catalog.Model]) -> pandas.DataFrame:
    r"""One row per model, one column per parameter any of them has.

    A model without a parameter has ``None`` in its column.

    """
    parameters = [model.header.get("parameters") or {} for model in models]
    keys = _output.in_order_given(parameters)
    columns = {}
    for key in keys:
        values = [params.get(key) for params in parameters]
        # Where a value is missing, the column holds None, not NaN.
        dtype = object if any(value is None for value in values) else None
        columns[key] = pd.Series(values, dtype=dtype)
    table = pd.DataFrame(columns, columns=keys)
    table.index = _uid_index([model.uid for model in models])
    return table


def files(entries: list[zipfile.ZipInfo]) -> pandas.DataFrame:
    r"""One row per file of an archive: size, modification time, CRC-32."""
    entries = [entry for entry in entries if not entry.is_dir()]
    return _files(
        [e.filename for e in entries],
        [e.file_size for e in entries],
        [datetime.datetime(*e.date_time) for e in entries],
        [e.CRC for e in entries],
    )


def recorded_files(record: dict[str, list[int]]) -> pandas.DataFrame:
    r"""The table of :func:`files` from a cache's record of a model's files.

    The record keeps sizes and CRC-32s only: ``modified`` is unknown (NaT).

    """
    paths = sorted(record)
    return _files(
        paths,
        [record[p][0] for p in paths],
        [None] * len(paths),
        [record[p][1] for p in paths],
    )


def _files(
    paths: list[str],
    sizes: list[int],
    modified: list[datetime.datetime | None],
    crcs: list[int],
) -> pandas.DataFrame:
    table = pd.DataFrame(
        {
            "size": pd.Series(sizes, dtype="int64"),
            "modified": pd.to_datetime(pd.Series(modified, dtype=object)),
            "crc32": pd.Series(crcs, dtype="int64"),
        },
        columns=FILES_COLUMNS,
    )
    table.index = pd.Index(paths, name="path", dtype=object)
    return table


def cached(rows: list[tuple[_cache.Entry, dict | None, str]]) -> pandas.DataFrame:
    r"""One row per cached model folder; name and subgroup from its header.

    Each row is an entry, its header and which cache it is in.

    """
    table = pd.DataFrame(
        [
            [
                (header or {}).get("name"),
                (header or {}).get("subgroup"),
                entry.version,
                entry.path,
                entry.size,
                datetime.datetime.fromtimestamp(entry.last_used),
                cache,
            ]
            for entry, header, cache in rows
        ],
        columns=CACHED_COLUMNS,
    )
    table["size"] = table["size"].astype("int64")
    table["last_used"] = pd.to_datetime(table["last_used"])
    table.index = _uid_index([entry.uid for entry, _, _ in rows])
    return table


def findings(
    found: list[tuple[Repository, list[_check.Finding]]],
) -> pandas.DataFrame:
    r"""One row per problem found, with the name of the repository it is in."""
    rows = [
        [repository.name, *(getattr(f, column) for column in CHECK_COLUMNS)]
        for repository, findings in found
        for f in findings
    ]
    return pd.DataFrame(rows, columns=["repository", *CHECK_COLUMNS], dtype=object)


def verified(rows: list[tuple[str, str, str]]) -> pandas.DataFrame:
    r"""One row per cached file that differs from its archive: uid, path, problem."""
    table = pd.DataFrame(
        [row[1:] for row in rows], columns=VERIFY_COLUMNS, dtype=object
    )
    table.index = _uid_index([row[0] for row in rows])
    return table


def _uid_index(uids: list[str]) -> pandas.Index:
    return pd.Index(uids, name="uid", dtype=object)


def _date_text(date: object) -> str | None:
    if isinstance(date, datetime.date):
        return date.isoformat()
    return None if date is None else str(date)
