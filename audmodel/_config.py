"""Configuration: the cache root and the repositories to search.

Read once at import, from the configuration shipped in the package and then
the user's file ``~/.config/audmodel.yaml``, whose top-level entries win.

"""

from __future__ import annotations

import os
from typing import Any

from audmodel._lazy import yaml
from audmodel._repository import Repository


PACKAGE_CONFIG_FILE = os.path.join(os.path.dirname(__file__), "etc", "audmodel.yaml")
USER_CONFIG_FILE = "~/.config/audmodel.yaml"
# In the order audmodel 1.5 checks them, so a file missing several keys
# gets the same first complaint.
REPOSITORY_KEYS = ("host", "backend", "name")


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
            entries = yaml.load(fp, Loader=yaml.BaseLoader)
    except yaml.YAMLError as ex:
        raise ValueError(
            f"The configuration file '{path}' is not valid YAML: {ex}"
        ) from None
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise ValueError(f"The configuration file '{path}' must hold a mapping.")
    if "cache_root" in entries and not isinstance(entries["cache_root"], str):
        raise ValueError(
            f"The entry 'cache_root' in the configuration file '{path}' "
            f"must be a path, not {entries['cache_root']!r}."
        )
    if "repositories" in entries:
        _check_repositories(entries["repositories"], path)
    return entries


def _check_repositories(repositories: object, path: str) -> None:
    if not repositories:
        raise ValueError(
            "You cannot specify an empty 'repositories:' section "
            f"in the configuration file '{path}'."
        )
    if not isinstance(repositories, list):
        raise ValueError(
            f"The entry 'repositories' in the configuration file '{path}' "
            "must be a list of repositories."
        )
    for repository in repositories:
        if not isinstance(repository, dict):
            raise ValueError(
                f"The repository {repository!r} in the configuration file "
                f"'{path}' must be a mapping with the keys 'name', 'host', "
                "and 'backend'."
            )
        for key in REPOSITORY_KEYS:
            if not isinstance(repository.get(key), str):
                raise ValueError(
                    f"Your repository is missing a '{key}' entry: '{repository}'. "
                    f"It is in the configuration file '{path}'."
                )


def load_config() -> dict[str, Any]:
    r"""Merge the package's configuration with the user's."""
    entries = read_config_file(PACKAGE_CONFIG_FILE)
    entries.update(read_config_file(USER_CONFIG_FILE))
    return entries


class _ReadWhenFirstUsed(type):
    r"""Reads the configuration files when a setting is first looked at.

    Not at import: ``import audmodel`` then needs no YAML parser, and a
    broken user file is reported by the first call that needs a setting.
    A setting assigned before is kept.

    """

    _SETTINGS = ("CACHE_ROOT", "REPOSITORIES")

    def __getattr__(cls, name: str) -> Any:
        # Called only for attributes not set yet.
        if name not in cls._SETTINGS:
            raise AttributeError(f"type object 'config' has no attribute '{name}'")
        entries = load_config()
        values = {
            "CACHE_ROOT": lambda: entries["cache_root"],
            "REPOSITORIES": lambda: [
                Repository(r["name"], r["host"], r["backend"])
                for r in entries["repositories"]
            ],
        }
        for setting in cls._SETTINGS:
            if setting not in vars(cls):
                setattr(cls, setting, values[setting]())
        return type.__getattribute__(cls, name)


class config(metaclass=_ReadWhenFirstUsed):  # noqa: N801 - named as in audmodel 1.5
    r"""Settings of :mod:`audmodel`.

    Read from the configuration shipped with the package
    and the user's file :file:`~/.config/audmodel.yaml`
    when a setting is first used,
    which may set ``cache_root`` and ``repositories``
    (a list of entries with ``name``, ``host``, and ``backend``).
    Assign to the attributes to change them at run time.
    The environment variable ``AUDMODEL_CACHE_ROOT``
    takes precedence over :attr:`config.CACHE_ROOT`.

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
