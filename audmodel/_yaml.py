"""Reading and writing the YAML files of a repository, safely.

Header, meta and alias files may come from anyone with write access to a
repository, so they are read with a safe loader that builds plain data only:
a ``!!python/...`` tag that would create an object or call a function is an
error, never code that runs.

The one exception is ``!!python/tuple``: audmodel 1.5 writes tuples in
parameters and meta with this tag. Reading it creates a tuple and runs
nothing, so it is allowed, and tuples are written the same way to keep the
files (and so the checksums) identical to those of audmodel 1.5.

A document is also refused before anything is built from it if it nests
deeper than :data:`MAX_DEPTH` or holds more than :data:`MAX_VALUES` values
once its anchors are expanded: a few hundred bytes of anchors can stand
for billions of values ("billion laughs"), and every reader that walks
them (the header index, JSON, the catalog) would pay for all of them.
Anchors themselves are allowed, as YAML writers (audmodel 1.5's too) use
them for an object that occurs twice.

"""

from __future__ import annotations

from collections import OrderedDict
import datetime
import functools
import os

from audmodel import errors
from audmodel._files import LinkError
from audmodel._files import NotRegularFileError
from audmodel._files import open_regular
from audmodel._lazy import yaml


SERIALIZE_ERROR_MESSAGE = "Cannot serialize the following object to a YAML file:\n"
TUPLE_TAG = "tag:yaml.org,2002:python/tuple"
MAX_DEPTH = 100
r"""Levels of nesting a document may have."""
MAX_VALUES = 262_144
r"""Values a document may hold with its anchors expanded:
as many as a 1 MiB file can hold without anchors."""
MAX_FILE_SIZE = 1024 * 1024
r"""Bytes a header, meta, alias or claim file may have;
real ones have a few hundred."""

# Exact types: subclasses such as numpy.float64 or enums would be written
# with tags that a safe loader refuses.
_SCALARS = (str, bool, int, float, datetime.date, datetime.datetime, type(None))


@functools.cache
def _loader_and_dumper() -> tuple[type[yaml.SafeLoader], type[yaml.SafeDumper]]:
    r"""A safe loader and dumper that read and write tuples as audmodel 1.5 does.

    Made at the first use, so that PyYAML is imported then.

    """
    # libyaml's parser, where PyYAML was built with it, reads about ten times
    # faster than the pure-Python one; it builds the same safe data.
    safe_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(safe_loader):  # type: ignore[valid-type,misc]
        pass

    class Dumper(yaml.SafeDumper):
        pass

    def construct_tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple:
        return tuple(loader.construct_sequence(node))

    def represent_tuple(dumper: yaml.SafeDumper, data: tuple) -> yaml.Node:
        return dumper.represent_sequence(TUPLE_TAG, data)

    Loader.add_constructor(TUPLE_TAG, construct_tuple)
    Dumper.add_representer(tuple, represent_tuple)
    return Loader, Dumper


class YAMLError(errors.RefusedError):
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
        audmodel.errors.NotPlainDataError: Cannot serialize the following object ...

    """
    _check_plain(obj, "")


def _check_plain(obj: object, where: str, depth: int = 1) -> None:
    if depth > MAX_DEPTH:
        # It could be written, but no reader would take it back.
        raise errors.NotPlainDataError(
            f"{SERIALIZE_ERROR_MESSAGE}it nests deeper than {MAX_DEPTH} levels "
            f"(at '{where}')"
        )
    if isinstance(obj, dict) and type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            if type(key) not in _SCALARS:
                _raise_not_plain(key, where)
            _check_plain(value, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(obj, list | tuple) and type(obj) in (list, tuple):
        for index, value in enumerate(obj):
            _check_plain(value, f"{where}[{index}]", depth + 1)
    elif type(obj) not in _SCALARS:
        _raise_not_plain(obj, where)


def _raise_not_plain(obj: object, where: str) -> None:
    place = f", at '{where}'" if where else ""
    raise errors.NotPlainDataError(
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
    dumper = _loader_and_dumper()[1]
    return yaml.dump(obj, Dumper=dumper, default_flow_style=False, sort_keys=False)


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
    loader = _loader_and_dumper()[0](text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _size_problem(node)
        if problem is not None:
            raise YAMLError(f"Refusing to read {source}: {problem}.", problem)
        return loader.construct_document(node)
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
    except RecursionError:  # the pure-Python parser, where libyaml is missing
        reason = f"it nests deeper than {MAX_DEPTH} levels"
        raise YAMLError(f"Refusing to read {source}: {reason}.", reason) from None
    finally:
        loader.dispose()


def _size_problem(root: yaml.Node) -> str | None:
    r"""What makes a parsed document too large or too deep, ``None`` if nothing.

    The node graph is walked without recursion, each node once, counting
    the values a node stands for with its anchors expanded.

    """
    values: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _children(node)
        if finished:
            ancestors.discard(key)
            values[key] = 1 + sum(values[id(child)] for child in children)
            if values[key] > MAX_VALUES:
                return (
                    f"it holds more than {MAX_VALUES} values with its anchors expanded"
                )
            continue
        if key in values:
            continue
        if key in ancestors:
            return "an anchor is used inside itself"
        ancestors.add(key)
        if len(ancestors) > MAX_DEPTH:
            return f"it nests deeper than {MAX_DEPTH} levels"
        stack.append((node, True))
        stack += [(child, False) for child in children if id(child) not in values]
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


MAX_SCALAR = 256
_PLAIN_ONLY = "only plain values are read (numbers, booleans, dates, words)."
r"""Characters of a value that :func:`scalar` reads as YAML."""


def scalar(text: str) -> object:
    r"""Read one plain value, as a number, boolean, date or string.

    For text that strangers may send (the catalog's filters):
    anything but one short scalar (a list, a mapping, an anchor, an alias,
    a tag, or more than :data:`MAX_SCALAR` characters)
    is taken as the text itself, without being parsed.

    Args:
        text: value as typed

    Returns:
        the value

    Examples:
        >>> scalar("16000"), scalar("cnn10"), scalar("[1, 2]")
        (16000, 'cnn10', '[1, 2]')
        >>> scalar("&a x")
        '&a x'

    """
    try:
        return read_scalar(text)
    except ValueError:
        return text


def read_scalar(text: str) -> object:
    r"""Read one plain value, or say why ``text`` is not one.

    Like :func:`scalar`, for a caller that tells the user.

    Raises:
        ValueError: if ``text`` is not one short plain value, saying why

    Examples:
        >>> read_scalar("8000")
        8000
        >>> read_scalar("[1, 2]")
        Traceback (most recent call last):
        ...
        audmodel.errors.InvalidArgumentError: only plain values are read ...

    """
    if len(text) > MAX_SCALAR:
        raise errors.InvalidArgumentError(
            f"a value has at most {MAX_SCALAR} characters."
        )
    if not text:
        return text
    if text[0] in "[{&*!|>%@`" or "\n" in text:
        raise errors.InvalidArgumentError(_PLAIN_ONLY)
    try:
        value = loads(text, "a value")
    except YAMLError:
        raise errors.InvalidArgumentError("it is not a valid value.") from None
    if type(value) not in _SCALARS:
        raise errors.InvalidArgumentError(_PLAIN_ONLY)
    return value


def load_file(
    path: str,
    source: str | None = None,
    limit: int | None = MAX_FILE_SIZE,
    follow: bool = True,
) -> object:
    r"""Read a YAML file safely, see :func:`loads`.

    The file is opened without blocking and read only if it is a regular
    file of at most ``limit`` bytes (``None`` for any size):
    in a cache shared by a group, anyone in it could plant a FIFO.
    With ``follow`` false (a cached file), a link is refused too.

    Raises:
        YAMLError: if the file is no regular file, too large,
            or not safe YAML

    """
    source = source or f"'{path}'"
    try:
        fp = open_regular(path, follow)
    except NotRegularFileError:
        reason = "it is not a regular file"
    except LinkError:
        reason = "it is a symbolic link"
    else:
        with fp:
            size = os.fstat(fp.fileno()).st_size
            if limit is None or size <= limit:
                return loads(fp.read(), source)
        reason = f"it has {size} bytes, more than the {limit} it may have"
    raise YAMLError(f"Refusing to read {source}: {reason}.", reason)
