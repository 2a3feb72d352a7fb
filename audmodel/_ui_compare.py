"""Models side by side: the catalog's compare page, as data.

Each model is one column; each row one header field, parameter, meta value
(nested meta by its dotted path) or file (by size and CRC-32), and a row is
marked when its values are not the same in every column. A value a model
lacks is ``None`` in the JSON twin and a dash on the page; it differs from
a value that is there, even from ``null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import json
from typing import Any

from audmodel import _output
from audmodel import errors


MAX_MODELS = 8
r"""Most models compared at once; more would not fit a screen."""

HEADER_FIELDS = ("name", "version", "subgroup", "author", "date")

_MISSING = object()


@dataclasses.dataclass
class Side:
    r"""What is known of one model of the comparison.

    ``meta`` and ``files`` are ``None`` where they could not be read; the
    reason is then in ``problems``.

    """

    uid: str
    header: dict[str, Any]  # plain JSON values
    meta: dict[str, Any] | None
    files: dict[str, dict[str, Any]] | None  # path -> {"size", "crc32"}
    problems: list[str] = dataclasses.field(default_factory=list)


def chosen(values: list[str]) -> list[str]:
    r"""The models asked for, each once, in the order given.

    Args:
        values: the ``uid`` values of the query

    Returns:
        the IDs, aliases or short IDs to compare

    Raises:
        ValueError: if fewer than two or more than :data:`MAX_MODELS` are asked for

    Example:
        >>> chosen(["a", "b", "a"])
        ['a', 'b']

    """
    unique = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(unique) < 2:
        raise errors.InvalidArgumentError(
            "Choose two or more models to compare: tick them in the list of "
            "models or of a model's versions, or give ?uid=...&uid=..."
        )
    if len(unique) > MAX_MODELS:
        raise errors.InvalidArgumentError(
            f"{len(unique)} models were chosen; at most {MAX_MODELS} are "
            "compared at once."
        )
    return unique


def compare(sides: list[Side]) -> dict[str, Any]:
    r"""The compare page's data: one section per kind of row.

    Args:
        sides: the models, one column each

    Returns:
        ``models`` (uid, name, version of each column) and ``sections``,
        each with a ``title`` and ``rows`` of ``key``, ``values`` and
        ``differs``

    Example:
        >>> a = Side("a-1.0.0", {"name": "m"}, {"lr": 0.1}, {})
        >>> b = Side("a-2.0.0", {"name": "m"}, {"lr": 0.2}, {})
        >>> meta = compare([a, b])["sections"][2]
        >>> meta["rows"]
        [{'key': 'lr', 'values': [0.1, 0.2], 'differs': True}]

    """
    header = [
        {k: _shown(k, s.header.get(k, _MISSING)) for k in HEADER_FIELDS} for s in sides
    ]
    parameters = [s.header.get("parameters") or {} for s in sides]
    meta = [_flat(s.meta) if s.meta is not None else None for s in sides]
    files = [
        {path: _file_text(f) for path, f in s.files.items()}
        if s.files is not None
        else None
        for s in sides
    ]
    return {
        "models": [
            {
                "uid": s.uid,
                "name": s.header.get("name"),
                "version": s.header.get("version"),
                "problems": s.problems,
            }
            for s in sides
        ],
        "sections": [
            _section("Model", header, ordered=HEADER_FIELDS),
            _section("Parameters", parameters),
            _section("Meta", meta),
            _section("Files", files),
        ],
    }


def differs(values: Sequence[Any]) -> bool:
    r"""Whether values are not all the same, compared as JSON (dict order aside).

    Examples:
        >>> differs([{"a": 1, "b": 2}, {"b": 2, "a": 1}]), differs([1, 1.5])
        (False, True)

    """
    return len({json.dumps(v, sort_keys=True, default=repr) for v in values}) > 1


def _section(
    title: str,
    columns: Sequence[Mapping[str, Any] | None],
    ordered: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    r"""Rows of one section; a column that could not be read is unknown."""
    keys = ordered or _output.in_order_given(columns)
    rows = []
    for key in keys:
        values = [_MISSING if c is None else c.get(key, _MISSING) for c in columns]
        if all(v is _MISSING for v in values):
            continue
        rows.append(
            {
                "key": key,
                "values": [None if v is _MISSING else v for v in values],
                "differs": differs(values),
            }
        )
    return {"title": title, "rows": rows}


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    r"""Nested meta as one level, keyed by dotted paths.

    Example:
        >>> _flat({"data": {"emodb": {"version": "1.1.1"}}, "n": [1, 2]})
        {'data.emodb.version': '1.1.1', 'n': [1, 2]}

    """
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(_flat(item, f"{path}."))
        else:
            flat[path] = item
    return flat


def _file_text(file: Mapping[str, Any]) -> str:
    r"""A file as compared: its size and CRC-32, which change with its content."""
    return f"{_output.human_size(file['size'])}, CRC-32 {file['crc32']}"


def _shown(key: str, value: Any) -> Any:
    r"""A header field as every page shows it (a date as a date)."""
    return (
        _output.human_time(value) if key == "date" and value is not _MISSING else value
    )
