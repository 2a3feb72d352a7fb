"""Reading and writing the YAML files of a repository, safely.

Header, meta and alias files may come from anyone with write access to a
repository, so they are read with a safe loader that builds plain data only:
a ``!!python/...`` tag that would create an object or call a function is an
error, never code that runs.

The one exception is ``!!python/tuple``: audmodel 1.5 writes tuples in
parameters and meta with this tag. Reading it creates a tuple and runs
nothing, so it is allowed, and tuples are written the same way to keep the
files (and so the checksums) identical to those of audmodel 1.5.

"""

from __future__ import annotations

from collections import OrderedDict
import datetime

import oyaml as yaml


SERIALIZE_ERROR_MESSAGE = "Cannot serialize the following object to a YAML file:\n"
TUPLE_TAG = "tag:yaml.org,2002:python/tuple"

# Exact types: subclasses such as numpy.float64 or enums would be written
# with tags that a safe loader refuses.
_SCALARS = (str, bool, int, float, datetime.date, datetime.datetime, type(None))


# libyaml's parser, where PyYAML was built with it, reads about ten times
# faster than the pure-Python one; it builds the same safe data.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    r"""Safe loader that also reads tuples."""


class _Dumper(yaml.SafeDumper):
    r"""Safe dumper that writes tuples as audmodel 1.5 does."""


def _construct_tuple(loader: _Loader, node: yaml.Node) -> tuple:
    return tuple(loader.construct_sequence(node))


def _represent_tuple(dumper: _Dumper, data: tuple) -> yaml.Node:
    return dumper.represent_sequence(TUPLE_TAG, data)


_Loader.add_constructor(TUPLE_TAG, _construct_tuple)
_Dumper.add_representer(tuple, _represent_tuple)


class YAMLError(RuntimeError):
    r"""A repository or cache file is not valid, safe YAML.

    Args:
        message: what went wrong, naming the file
        reason: the parser's own words

    """

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason
        r"""The parser's own words, without the file's name."""


def check_plain(obj: object) -> None:
    r"""Check that ``obj`` holds only data that YAML stores faithfully.

    Allowed are mappings with scalar keys, lists, tuples, strings,
    numbers, booleans, ``None`` and dates.

    Args:
        obj: object to check

    Raises:
        RuntimeError: naming the first value that is not plain data

    Examples:
        >>> check_plain({"lr": 0.1, "layers": [64, 32]})
        >>> check_plain({"fn": print})
        Traceback (most recent call last):
        ...
        RuntimeError: Cannot serialize the following object to a YAML file:
        <built-in function print> (of type builtin_function_or_method, at 'fn')

    """
    _check_plain(obj, "")


def _check_plain(obj: object, where: str) -> None:
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            if type(key) not in _SCALARS:
                _raise_not_plain(key, where)
            _check_plain(value, f"{where}.{key}" if where else str(key))
    elif type(obj) in (list, tuple):
        for index, value in enumerate(obj):
            _check_plain(value, f"{where}[{index}]")
    elif type(obj) not in _SCALARS:
        _raise_not_plain(obj, where)


def _raise_not_plain(obj: object, where: str) -> None:
    place = f", at '{where}'" if where else ""
    raise RuntimeError(
        f"{SERIALIZE_ERROR_MESSAGE}{obj!r} (of type {type(obj).__name__}{place})"
    )


def dumps(obj: object) -> str:
    r"""Write plain data as YAML text, in the layout audmodel 1.5 writes.

    Mappings keep their order; collections are written in block style.

    Args:
        obj: plain data, see :func:`check_plain`

    Returns:
        YAML document

    Raises:
        RuntimeError: if ``obj`` holds anything but plain data

    Examples:
        >>> print(dumps({"uid": "3e120e8d-2.0.0"}), end="")
        uid: 3e120e8d-2.0.0

    """
    check_plain(obj)
    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def loads(text: str | bytes, source: str) -> object:
    r"""Read a YAML document safely.

    Args:
        text: YAML document
        source: what the text was read from, named in errors

    Returns:
        plain data

    Raises:
        RuntimeError: if the document is not valid YAML
            or uses a tag that would create an object

    Examples:
        >>> loads("date: 1985-11-18", "header")
        {'date': datetime.date(1985, 11, 18)}
        >>> loads("!!python/object/apply:os.system ['echo hi']", "meta")
        Traceback (most recent call last):
        ...
        audmodel._yaml.YAMLError: Refusing to read meta: ...

    """
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.constructor.ConstructorError as ex:
        reason = ex.problem.strip() if ex.problem else str(ex)
        raise YAMLError(
            f"Refusing to read {source}: it uses a YAML tag that is not plain "
            f"data ({reason}).",
            reason,
        ) from None
    except yaml.YAMLError as ex:
        raise YAMLError(
            f"Cannot read {source}: it is not valid YAML ({ex}).", str(ex)
        ) from None


def load_file(path: str, source: str | None = None) -> object:
    r"""Read a YAML file safely, see :func:`loads`."""
    with open(path, "rb") as fp:
        return loads(fp.read(), source or f"'{path}'")
