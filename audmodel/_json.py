"""Headers, meta and tables as JSON: one converter for people, one for the index.

:func:`plain` gives what a script reading the command line's ``--format
json`` or the catalog's ``/api`` expects: dates as ISO text, tuples as
lists, numbers of numpy and pandas as Python numbers. It loses the
difference between a date and its text, which :func:`tagged` keeps, for
the header index in the cache that must give back exactly what it was
given (:func:`untagged` reads it).
"""

from __future__ import annotations

import datetime
import math
from typing import Any


def plain(value: Any) -> Any:
    r"""Data as JSON holds it for a reader: dates as text, tuples as lists.

    A missing value of a table (NaN) becomes ``None``;
    anything else JSON cannot hold becomes its text.

    Examples:
        >>> plain({"date": datetime.date(2024, 1, 2), "shape": (1, 2), 3: None})
        {'date': '2024-01-02', 'shape': [1, 2], '3': None}

    """
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None  # a table's empty cell; JSON has no NaN
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):  # dates, times, pandas' time stamps
        return value.isoformat()
    if hasattr(value, "item"):  # numpy's and pandas' scalars
        return plain(value.item())
    return str(value)


def tagged(value: Any) -> Any:
    r"""Data as JSON can hold it without loss: dates and tuples tagged.

    Examples:
        >>> tagged({"date": datetime.date(2024, 1, 2), "shape": (1, 2)})
        {'date': {'__date__': '2024-01-02'}, 'shape': {'__tuple__': [1, 2]}}

    """
    if isinstance(value, dict):
        return {str(key): tagged(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tagged(item) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [tagged(item) for item in value]}
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"__date__": value.isoformat()}
    return value


def untagged(obj: dict) -> Any:
    r"""The value a tagged mapping stands for; use as ``object_hook``.

    Examples:
        >>> import json
        >>> json.loads('{"d": {"__date__": "2024-01-02"}}', object_hook=untagged)
        {'d': datetime.date(2024, 1, 2)}

    """
    if len(obj) == 1:
        key, value = next(iter(obj.items()))
        if key == "__tuple__":
            return tuple(value)
        if key == "__date__":
            return datetime.date.fromisoformat(value)
        if key == "__datetime__":
            return datetime.datetime.fromisoformat(value)
    return obj
