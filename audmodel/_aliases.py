"""Aliases: reading and writing alias files and a model's list of aliases.

An alias is a file ``/_alias/<alias>.alias.yaml`` (in version
:data:`audmodel._layout.ALIAS_VERSION`) holding ``uid: <model ID>``;
a model's aliases file lists the aliases that point to it. The alias
files are the truth; an aliases file can lag behind them while
processes move an alias at the same time.

"""

from __future__ import annotations

from collections.abc import Callable

from audmodel import _ids
from audmodel import _layout
from audmodel import _output
from audmodel import _yaml
from audmodel import errors
from audmodel._lazy import futures
from audmodel._repository import Repository
from audmodel._store import Location
from audmodel._store import alias_names
from audmodel._store import answers
from audmodel._store import read_if_there
from audmodel._store import source
from audmodel._threads import HEADER_READS


class AliasFileError(errors.RefusedError):
    r"""An alias file that cannot be read.

    Its message starts as audmodel 1.5's does, which scripts match.

    """


def find_alias(alias: str) -> tuple[Repository, str] | None:
    r"""The repository holding an alias and the UID it points to, or ``None``.

    Each repository is asked with one request, the read of the alias file.

    Raises:
        AliasFileError: if the alias file cannot be parsed

    """
    for repository, uid in answers(lambda location: read_alias(location, alias)):
        if uid is not None:
            _output.say(f"Alias '{alias}' points to '{uid}' in {repository}.")
            return repository, uid
    return None


def find_alias_file(alias: str) -> tuple[Repository, bytes] | None:
    r"""The first repository holding an alias file, and the file's bytes.

    Each repository is asked with one request, the read of the file;
    what it holds is not parsed here.

    """
    path = _layout.alias_path(alias)
    question = lambda location: read_if_there(location, path, _layout.ALIAS_VERSION)  # noqa: E731
    return next(((r, data) for r, data in answers(question) if data is not None), None)


def read_alias(location: Location, alias: str) -> str | None:
    r"""The UID an alias file points to, ``None`` if the file is not there.

    Raises:
        AliasFileError: if the file is not YAML or names no model

    """
    data = read_if_there(location, _layout.alias_path(alias), _layout.ALIAS_VERSION)
    return None if data is None else alias_uid(location, alias, data)


def alias_uid(location: Location, alias: str, data: bytes) -> str:
    r"""The UID the bytes of an alias file read from ``location`` name.

    Raises:
        AliasFileError: if the text is not YAML or names no model

    """
    where = source(location, _layout.alias_path(alias), _layout.ALIAS_VERSION)
    return uid_of_alias_text(data, where)


def uid_of_alias_text(data: bytes, where: str) -> str:
    r"""The UID an alias file's text names.

    Args:
        data: the file's bytes
        where: where the file lies, for the error

    Raises:
        AliasFileError: if the text is not YAML or names no model

    Example:
        >>> uid_of_alias_text(b"uid: d4e9c65b-1.0.0\n", "here")
        'd4e9c65b-1.0.0'

    """
    try:
        content = _yaml.loads(data, where)
    except _yaml.YAMLError as ex:
        raise AliasFileError(
            f"Failed to parse alias file: {ex.reason} ({where})"
        ) from None
    uid = content.get("uid") if isinstance(content, dict) else None
    if not isinstance(uid, str):
        raise AliasFileError(
            f"Failed to parse alias file: it does not name a model ('uid: <ID>') "
            f"({where})"
        )
    if not _ids.is_model_id(uid):
        raise AliasFileError(
            f"Failed to parse alias file: {uid!r} is not a model ID ({where})"
        )
    return uid


def read_aliases(location: Location, model: _ids.ModelId) -> list[str]:
    r"""The aliases of a model, empty if it has none."""
    return read_aliases_file(location, model)[0]


def read_aliases_file(
    location: Location, model: _ids.ModelId
) -> tuple[list[str], bytes | None]:
    r"""The aliases of a model, and the bytes of its file (``None`` if none)."""
    short_id, version = model
    path = _layout.aliases_path(short_id)
    data = read_if_there(location, path, version)
    if data is None:
        return [], None
    return _aliases_in(data, source(location, path, version)), data


def _aliases_in(data: bytes, where: str) -> list[str]:
    content = _yaml.loads(data, where)
    aliases = list(
        (content.get("aliases") if isinstance(content, dict) else None) or []
    )
    for alias in aliases:
        if not _ids.is_valid_alias(alias):
            raise errors.RefusedError(
                f"Refusing the aliases file {where}: {alias!r} is not an alias name."
            )
    return aliases


def aliases_without(location: Location, model: _ids.ModelId, alias: str) -> str | None:
    r"""A model's aliases file with ``alias`` taken out; ``None`` if not listed."""
    aliases = read_aliases(location, model)
    if alias not in aliases:
        return None
    aliases.remove(alias)
    return aliases_text(aliases)


def aliases_text(aliases: list[str]) -> str:
    r"""The aliases file of a model."""
    return _yaml.dumps({"aliases": sorted(set(aliases))})


def alias_text(uid: str) -> str:
    r"""The file of an alias."""
    return _yaml.dumps({"uid": uid})


def all_aliases(location: Location) -> dict[str, str]:
    r"""Every alias of a repository and the model ID it points to.

    Found by one listing; the alias files are read in parallel.
    An alias file that cannot be read is left out.

    Raises:
        audbackend.BackendError: if the repository cannot be listed

    """
    names = alias_names(location)

    def target(alias: str) -> str | None:
        try:
            return read_alias(location, alias)
        except Exception:  # a broken alias file is no alias
            return None

    with futures.ThreadPoolExecutor(HEADER_READS) as pool:
        uids = list(pool.map(target, names))
    return {alias: uid for alias, uid in zip(names, uids, strict=True) if uid}


def aliases_of(
    location: Location,
    model: _ids.ModelId,
    target: Callable[[str], str | None] | None = None,
) -> list[str]:
    r"""The aliases in a model's aliases file that point to it, sorted.

    The alias files are the truth; a model's list can lag behind them when
    processes move an alias at the same time.

    Args:
        location: the model's repository
        model: the model
        target: where an alias points, by default as read in ``location``;
            an alias whose file is broken points nowhere

    """
    uid = str(model)
    pointing = []
    for alias in read_aliases(location, model):
        try:
            found = target(alias) if target else read_alias(location, alias)
        except AliasFileError:
            continue
        if found == uid:
            pointing.append(alias)
    return sorted(pointing)


def resolved(alias: str) -> str | None:
    r"""The model ID an alias names in the first repository holding it."""
    found = find_alias(alias)
    return None if found is None else found[1]
