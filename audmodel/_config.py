"""Configuration: the caches, the repositories to search, and how to reach them.

Read when a setting is first used, from the configuration shipped in the
package and then the user's file ``~/.config/audmodel.yaml``, whose
top-level entries win. Where an environment variable names a setting too,
it wins over both: :func:`shared_cache_root`, :func:`offline` and
:func:`cache_lock` are the settings as the library uses them.

"""

from __future__ import annotations

import os
from typing import Any

from audmodel import errors
from audmodel._lazy import yaml
from audmodel._output import did_you_mean
from audmodel._repository import Repository


PACKAGE_CONFIG_FILE = os.path.join(os.path.dirname(__file__), "etc", "audmodel.yaml")
USER_CONFIG_FILE = "~/.config/audmodel.yaml"
# In the order audmodel 1.5 checks them, so a file missing several keys
# gets the same first complaint.
REPOSITORY_KEYS = ("host", "backend", "name")
SETTINGS_KEYS = (
    "cache_root",
    "cache_lock",
    "offline",
    "repositories",
    "require_signature",
    "shared_cache_root",
    "signing_key",
    "trusted_keys",
)
r"""The entries a configuration file may have."""
SOURCE = "_source"
r"""The key under which a repository read from a file keeps where it was."""
CACHE_LOCKS = ("auto", "lease")
r"""Values of ``cache_lock``: ``flock`` with a fallback, or lease locks always."""
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def read_config_file(path: str) -> dict[str, object]:
    r"""Read and check a configuration file.

    Every value is read as a string, so that a host such as ``1.2``
    stays what the user wrote.

    Args:
        path: configuration file, need not exist

    Returns:
        its entries, empty if there is no file

    Raises:
        ValueError: naming the file and the entry that is wrong

    """
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as fp:
            text = fp.read()
        entries = yaml.load(text, Loader=yaml.BaseLoader)
        lines = _lines(yaml.compose(text, Loader=yaml.BaseLoader))
    except yaml.YAMLError as ex:
        raise errors.ConfigurationError(
            f"The configuration file '{path}' is not valid YAML: {ex}"
        ) from None
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise errors.ConfigurationError(
            f"The configuration file '{path}' must hold a mapping."
        )
    _refuse_unknown(entries, SETTINGS_KEYS, f"The configuration file '{path}'", lines)
    for key in ("cache_root", "shared_cache_root", "signing_key"):
        if key in entries and not isinstance(entries[key], str):
            raise errors.ConfigurationError(
                f"The entry '{key}' in the configuration file '{path}' "
                f"must be a path, not {entries[key]!r}."
            )
    for key in ("offline", "require_signature"):
        if key in entries:
            entries[key] = _switch(entries[key], f"the entry '{key}' in '{path}'")
    if "trusted_keys" in entries:
        entries["trusted_keys"] = _paths(entries["trusted_keys"], path)
    if "cache_lock" in entries:
        _check_lock(entries["cache_lock"], f"the entry 'cache_lock' in '{path}'")
    if "repositories" in entries:
        _check_repositories(entries["repositories"], path)
        for index, repository in enumerate(entries["repositories"]):
            line = lines.get(("repositories", index))
            where = f"the configuration file '{path}'"
            repository[SOURCE] = f"{where}, line {line}" if line else where
    return entries


def _lines(node: Any) -> dict[object, int]:
    r"""The line of each top-level key, and of each entry of ``repositories``."""
    found: dict[object, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return found
    for key, value in node.value:
        found[key.value] = key.start_mark.line + 1
        if key.value == "repositories" and isinstance(value, yaml.SequenceNode):
            for index, item in enumerate(value.value):
                found[("repositories", index)] = item.start_mark.line + 1
    return found


def _refuse_unknown(
    entries: dict, known: tuple[str, ...], where: str, lines: dict[object, int]
) -> None:
    r"""Raise for the first entry of ``entries`` not in ``known``.

    A misspelled entry is not passed over: its default would be taken
    silently (for ``repositorys``, the public repository).

    """
    for key in entries:
        if key in known:
            continue
        line = f" (line {lines[key]})" if key in lines else ""
        raise errors.ConfigurationError(
            f"{where} has an unknown entry '{key}'{line}.{did_you_mean(key, known)} "
            f"Its entries may be: {', '.join(known)}."
        )


def _check_repositories(repositories: object, path: str) -> None:
    if not repositories:
        raise errors.ConfigurationError(
            "You cannot specify an empty 'repositories:' section "
            f"in the configuration file '{path}'."
        )
    if not isinstance(repositories, list):
        raise errors.ConfigurationError(
            f"The entry 'repositories' in the configuration file '{path}' "
            "must be a list of repositories."
        )
    for repository in repositories:
        if not isinstance(repository, dict):
            raise errors.ConfigurationError(
                f"The repository {repository!r} in the configuration file "
                f"'{path}' must be a mapping with the keys 'name', 'host', "
                "and 'backend'."
            )
        for key in REPOSITORY_KEYS:
            if not isinstance(repository.get(key), str):
                raise errors.ConfigurationError(
                    f"Your repository is missing a '{key}' entry: '{repository}'. "
                    f"It is in the configuration file '{path}'."
                )
        where = f"The repository '{repository['name']}' in '{path}'"
        _refuse_unknown(repository, REPOSITORY_KEYS, where, {})


def _paths(value: object, path: str) -> list[str]:
    r"""A list of paths of a configuration file; one path alone is a list of one."""
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise errors.ConfigurationError(
            f"The entry 'trusted_keys' in the configuration file '{path}' "
            f"must be a list of paths, not {value!r}."
        )
    return paths


def _switch(value: object, where: str) -> bool:
    r"""A yes/no setting, from a file or the environment.

    Raises:
        ValueError: naming ``where`` if the value is neither

    """
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise errors.ConfigurationError(
        f"{where} must be true or false (1 or 0), not {value!r}."
    )


def _check_lock(value: object, where: str) -> str:
    if value not in CACHE_LOCKS:
        raise errors.ConfigurationError(
            f"{where} must be one of {', '.join(CACHE_LOCKS)}, not {value!r}."
        )
    return str(value)


def user_cache_root() -> str:
    r"""The user's cache folder: ``AUDMODEL_CACHE_ROOT``, else the setting."""
    return os.environ.get("AUDMODEL_CACHE_ROOT") or config.CACHE_ROOT


def state_folder() -> str:
    r"""Where the package keeps what it learned, beside no model cache.

    ``$XDG_CACHE_HOME/audmodel``, else ``~/.cache/audmodel``: a cache
    root holds model folders only (see the documentation of the cache).

    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return os.path.abspath(os.path.join(os.path.expanduser(base), "audmodel"))


def shared_cache_root() -> str | None:
    r"""The shared cache folder: ``AUDMODEL_SHARED_CACHE_ROOT``, else the setting.

    Returns:
        the folder, or ``None`` if there is no shared cache

    """
    return os.environ.get("AUDMODEL_SHARED_CACHE_ROOT") or config.SHARED_CACHE_ROOT


def offline() -> bool:
    r"""Whether offline mode is on: ``AUDMODEL_OFFLINE``, else the setting.

    Raises:
        ValueError: if ``AUDMODEL_OFFLINE`` is neither true nor false

    """
    if "AUDMODEL_OFFLINE" in os.environ:
        return _switch(os.environ["AUDMODEL_OFFLINE"], "AUDMODEL_OFFLINE")
    return bool(config.OFFLINE)


def signing_key() -> str | None:
    r"""The key models are signed with: ``AUDMODEL_SIGNING_KEY``, else the setting."""
    return os.environ.get("AUDMODEL_SIGNING_KEY") or config.SIGNING_KEY


def trusted_keys() -> list[str]:
    r"""The keys signatures are verified with.

    ``AUDMODEL_TRUSTED_KEYS`` (paths separated by ``os.pathsep``),
    else the setting.

    """
    variable = os.environ.get("AUDMODEL_TRUSTED_KEYS")
    if variable:
        return [path for path in variable.split(os.pathsep) if path]
    keys = config.TRUSTED_KEYS
    return [keys] if isinstance(keys, str) else list(keys or [])


def require_signature() -> bool:
    r"""Whether a model must be signed by a trusted key to load.

    Raises:
        ValueError: if ``AUDMODEL_REQUIRE_SIGNATURE`` is neither true nor false

    """
    variable = "AUDMODEL_REQUIRE_SIGNATURE"
    if variable in os.environ:
        return _switch(os.environ[variable], variable)
    return bool(config.REQUIRE_SIGNATURE)


def cache_lock() -> str:
    r"""How the cache is locked: ``AUDMODEL_CACHE_LOCK``, else the setting.

    Raises:
        ValueError: if the value is not one of :data:`CACHE_LOCKS`

    """
    if os.environ.get("AUDMODEL_CACHE_LOCK"):
        return _check_lock(os.environ["AUDMODEL_CACHE_LOCK"], "AUDMODEL_CACHE_LOCK")
    return _check_lock(config.CACHE_LOCK, "audmodel.config.CACHE_LOCK")


VARIABLES = {
    "cache_root": "AUDMODEL_CACHE_ROOT",
    "shared_cache_root": "AUDMODEL_SHARED_CACHE_ROOT",
    "offline": "AUDMODEL_OFFLINE",
    "cache_lock": "AUDMODEL_CACHE_LOCK",
    "require_signature": "AUDMODEL_REQUIRE_SIGNATURE",
    "signing_key": "AUDMODEL_SIGNING_KEY",
    "trusted_keys": "AUDMODEL_TRUSTED_KEYS",
}
r"""The environment variable that wins over each setting, where there is one."""


def effective() -> list[tuple[str, object, str]]:
    r"""Each setting as the library uses it, and where its value comes from.

    Returns:
        ``(entry, value, origin)`` in the order of :data:`SETTINGS_KEYS`;
        the origin is an environment variable, a file (the user's, or the
        one shipped with the package), a run-time assignment, or the default

    Raises:
        ValueError: if a configuration file or variable is invalid

    """
    user, package = (
        read_config_file(USER_CONFIG_FILE),
        read_config_file(PACKAGE_CONFIG_FILE),
    )
    values: dict[str, object] = {
        "cache_root": user_cache_root(),
        "cache_lock": cache_lock(),
        "offline": offline(),
        "repositories": list(config.REPOSITORIES),
        "require_signature": require_signature(),
        "shared_cache_root": shared_cache_root(),
        "signing_key": signing_key(),
        "trusted_keys": trusted_keys(),
    }
    loaded = {**package, **user}  # as load_config() merges them
    found = []
    for key in SETTINGS_KEYS:
        variable = VARIABLES.get(key)
        if variable and os.environ.get(variable):
            origin = f"environment variable {variable}"
        elif _assigned(key, loaded):
            origin = "set at run time (audmodel.config)"
        elif key in user:
            origin = os.path.expanduser(USER_CONFIG_FILE)
        elif key in package:
            origin = f"{PACKAGE_CONFIG_FILE} (shipped with audmodel)"
        else:
            origin = "default"
        found.append((key, values[key], origin))
    return found


def _assigned(key: str, loaded: dict[str, Any]) -> bool:
    r"""Whether ``config``'s attribute of ``key`` differs from the files' value."""
    setting = key.upper()
    return setting in vars(config) and vars(config)[setting] != _setting(key, loaded)


def _setting(key: str, entries: dict[str, Any]) -> object:
    r"""The value of the setting ``key`` as the configuration files give it.

    ``cache_root`` and ``repositories`` the package's file always sets;
    the others have a default.

    """
    if key == "repositories":
        return [_configured(r) for r in entries["repositories"]]
    if key == "cache_root":
        return entries["cache_root"]
    if key in ("shared_cache_root", "signing_key"):
        return entries.get(key) or None
    defaults = {
        "offline": False,
        "cache_lock": "auto",
        "require_signature": False,
        "trusted_keys": [],
    }
    return entries.get(key, defaults[key])


def load_config() -> dict[str, Any]:
    r"""Merge the package's configuration with the user's."""
    entries = read_config_file(PACKAGE_CONFIG_FILE)
    entries.update(read_config_file(USER_CONFIG_FILE))
    return entries


def _configured(entry: dict) -> Repository:
    r"""A repository of a configuration file, which knows where it was written."""
    repository = Repository(entry["name"], entry["host"], entry["backend"])
    repository._source = entry.get(SOURCE)
    return repository


class _ReadWhenFirstUsed(type):
    r"""Reads the configuration files when a setting is first looked at.

    Not at import: ``import audmodel`` then needs no YAML parser, and a
    broken user file is reported by the first call that needs a setting.
    A setting assigned before is kept.

    """

    _SETTINGS = (
        "CACHE_ROOT",
        "REPOSITORIES",
        "SHARED_CACHE_ROOT",
        "OFFLINE",
        "CACHE_LOCK",
        "SIGNING_KEY",
        "TRUSTED_KEYS",
        "REQUIRE_SIGNATURE",
    )

    def __getattr__(cls, name: str) -> Any:
        # Called only for attributes not set yet.
        if name not in cls._SETTINGS:
            raise AttributeError(f"type object 'config' has no attribute '{name}'")
        entries = load_config()
        for setting in cls._SETTINGS:
            if setting not in vars(cls):
                setattr(cls, setting, _setting(setting.lower(), entries))
        return type.__getattribute__(cls, name)


class config(metaclass=_ReadWhenFirstUsed):  # noqa: N801 - named as in audmodel 1.5
    r"""Settings of :mod:`audmodel`.

    Read from the configuration shipped with the package
    and the user's file :file:`~/.config/audmodel.yaml`
    when a setting is first used,
    which may set ``cache_root``, ``repositories``
    (a list of entries with ``name``, ``host``, and ``backend``),
    ``shared_cache_root``, ``offline`` (``true`` or ``false``),
    ``cache_lock`` (``auto`` or ``lease``), and for signed models
    ``signing_key``, ``trusted_keys`` and ``require_signature``.
    Assign to the attributes to change them at run time.
    The environment variables ``AUDMODEL_CACHE_ROOT``,
    ``AUDMODEL_SHARED_CACHE_ROOT``, ``AUDMODEL_OFFLINE``,
    ``AUDMODEL_CACHE_LOCK``, ``AUDMODEL_SIGNING_KEY``,
    ``AUDMODEL_TRUSTED_KEYS`` and ``AUDMODEL_REQUIRE_SIGNATURE``
    take precedence over the attributes.

    Examples:
        >>> audmodel.config.CACHE_ROOT = "~/caches/audmodel"
        >>> audmodel.config.CACHE_ROOT
        '~/caches/audmodel'

    """

    CACHE_ROOT: str
    r"""Default cache root."""

    REPOSITORIES: list[Repository]
    r"""Repositories, searched in this order.

    A model is published to the first one
    unless :func:`audmodel.publish` is given another.

    """

    SHARED_CACHE_ROOT: str | None
    r"""A cache filled by an administrator, read-only for its users.

    :func:`audmodel.load` and the functions that read metadata look there
    first, and write nothing there; ``None`` (the default): no shared cache.

    """

    OFFLINE: bool
    r"""Contact no repository; answer from the caches, or say what is not cached."""

    CACHE_LOCK: str
    r"""How the cache is locked.

    ``'auto'``: ``flock``, or lease lock files where it fails;
    ``'lease'``: lease lock files always.

    """

    SIGNING_KEY: str | None
    r"""PEM file of the private key :func:`audmodel.publish` signs models with.

    An elliptic-curve key (P-256, P-384 or P-521); followed in the same
    file by its certificate and the certificate chain, for signing with
    a certificate. ``None`` (the default): models are not signed.
    Needs the extra ``sign`` (``pip install audmodel[sign]``).

    """

    TRUSTED_KEYS: list[str]
    r"""PEM files of the public keys (or root certificates) trusted to sign models.

    Where set, :func:`audmodel.load` verifies each signed model it
    downloads against its signature before the folder appears.

    """

    REQUIRE_SIGNATURE: bool
    r"""Load only models signed by a key of :attr:`TRUSTED_KEYS`."""
