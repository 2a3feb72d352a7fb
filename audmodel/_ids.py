"""Model IDs, aliases and versions: how they are computed and told apart.

A model is identified by a short ID (8 hex characters) hashed from its
subgroup, name and parameters, plus a version: ``<short_id>-<version>``.
Models published before audmodel 1.0 carry a 36-character legacy ID.
Anything else a user passes where an ID is expected is taken as an alias.

"""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import re
from typing import NamedTuple

from audmodel import _layout
from audmodel import errors


LEGACY_REPOSITORY_PUBLIC = "models-public-local"
LEGACY_REPOSITORY_PRIVATE = "models-private-local"


SHORT_ID_PATTERN = re.compile(r"[0-9a-f]{8}")
LEGACY_ID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# A version starts with a digit, so that an alias can never be read as
# '<short_id>-<version>'; the rest are the characters a backend path allows.
VERSION_PATTERN = re.compile(r"[0-9][A-Za-z0-9._-]*")
UID_PATTERN = re.compile(rf"[0-9a-f]{{8}}-{VERSION_PATTERN.pattern}")
ALIAS_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
SUBGROUP_PART_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def short_id(
    name: str,
    params: Mapping[str, object],
    subgroup: str | None,
) -> str:
    r"""Hash name, parameters and subgroup into an 8-character ID.

    Only the top level of ``params`` is sorted by key,
    so that the order in which a user writes the parameters
    does not change the ID.

    Args:
        name: model name
        params: model parameters
        subgroup: dot-separated subgroup, or ``None``

    Returns:
        short ID

    Examples:
        >>> short_id("sklearn", {}, "a.b.c")
        '0dbca4fd'

    """
    ordered = {key: params[key] for key in sorted(params)}
    fingerprint = f"{subgroup or ''}.{name}" + str(ordered)
    return _hashed(fingerprint)[-8:]


def legacy_id(
    name: str,
    params: Mapping[str, object],
    version: str,
    subgroup: str | None,
    private: bool,
) -> str:
    r"""Hash a model the way audmodel did before version 1.0.

    Args:
        name: model name
        params: model parameters, in the order given
        version: model version
        subgroup: dot-separated subgroup, or ``None``
        private: if the model lived in the private legacy repository

    Returns:
        36-character legacy ID

    Examples:
        >>> legacy_id("sklearn", {}, "3.1.4", "a.b.c", False)
        '4756c243-4540-3577-4387-39c7529df405'

    """
    group = "com.audeering.models"
    group_id = f"{group}.{name}" if subgroup is None else f"{group}.{subgroup}.{name}"
    repository = LEGACY_REPOSITORY_PRIVATE if private else LEGACY_REPOSITORY_PUBLIC
    fingerprint = str(params) + group_id + "lookup" + version + repository
    return _hashed(fingerprint)


def is_short_id(text: str) -> bool:
    r"""Tell if ``text`` is a short ID."""
    return SHORT_ID_PATTERN.fullmatch(text) is not None


def is_legacy_id(text: str) -> bool:
    r"""Tell if ``text`` is a legacy ID."""
    return LEGACY_ID_PATTERN.fullmatch(text) is not None


def is_alias(text: str) -> bool:
    r"""Tell if ``text`` is meant as an alias rather than a model ID.

    Examples:
        >>> is_alias("emotion-small")
        True
        >>> is_alias("3e120e8d-1.0.0")
        False

    """
    return not (is_short_id(text) or is_legacy_id(text) or UID_PATTERN.fullmatch(text))


def is_valid_alias(text: str) -> bool:
    r"""Tell if ``text`` can name an alias.

    Names of dots only are refused, as they would leave the alias folder.

    Examples:
        >>> is_valid_alias("emotion-small"), is_valid_alias("..")
        (True, False)

    """
    return (
        isinstance(text, str)
        and ALIAS_PATTERN.fullmatch(text) is not None
        and set(text) != {"."}
        and is_alias(text)
    )


def is_model_id(text: object) -> bool:
    r"""Tell if ``text`` is a full model ID (``'<short_id>-<version>'``) or legacy ID.

    These are the forms a model is stored and cached under;
    each part is one safe folder name.

    Examples:
        >>> is_model_id("3e120e8d-1.0.0"), is_model_id("../project-evilpkg")
        (True, False)

    """
    return isinstance(text, str) and (
        is_legacy_id(text) or UID_PATTERN.fullmatch(text) is not None
    )


def is_safe_version(text: object) -> bool:
    r"""Tell if a version read from storage can name a folder.

    It starts with a digit and holds no separator, so it is never ``..``.

    """
    return isinstance(text, str) and VERSION_PATTERN.fullmatch(text) is not None


def is_version(text: object) -> bool:
    r"""Tell if ``text`` is a version a model can have, see :func:`check_version`."""
    return (
        isinstance(text, str)
        and VERSION_PATTERN.fullmatch(text) is not None
        and _is_semantic(text)
    )


def _is_semantic(version: str) -> bool:
    r"""Tell if a version is ``X.Y.Z`` with a pre-release or build part.

    The rule of :func:`audeer.is_semantic_version`, which audmodel 1.5
    applies: three integer parts, a leading ``v`` allowed, and after the
    third part ``-`` or ``+`` but no further ``.`` before them.

    Examples:
        >>> [_is_semantic(v) for v in ("1.0.0", "1.0.0-rc.1", "1.0", "1.0.0.1")]
        [True, True, False, False]

    """
    parts = version.split(".")
    if len(parts) < 3:
        return False
    patch = ".".join(parts[2:]).split("-")[0].split("+")[0]
    if "." in patch:  # e.g. 1.0.0.1
        return False
    try:
        int(parts[0].removeprefix("v")), int(parts[1]), int(patch)
    except ValueError:
        return False
    return True


def _hashed(fingerprint: str) -> str:
    r"""The MD5 of a fingerprint as a UUID-shaped ID, as audmodel 1.5 hashes.

    Examples:
        >>> _hashed("example")
        '1a79a4d6-0de6-718e-8e5b-326e338ae533'

    """
    digest = hashlib.md5(fingerprint.encode("utf-8")).hexdigest()
    return "-".join(
        (digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:])
    )


def is_stored_id(text: object) -> bool:
    r"""Tell if ``text`` can name a model's files: a short or legacy ID.

    Examples:
        >>> is_stored_id("3e120e8d"), is_stored_id("..")
        (True, False)

    """
    return isinstance(text, str) and (is_short_id(text) or is_legacy_id(text))


def header_problem(header: object) -> str | None:
    r"""What makes a header read from storage unusable, ``None`` if nothing.

    Its name and subgroup become folders of the archive's path,
    so they must pass the checks :func:`audmodel.publish` applies.

    Examples:
        >>> header_problem({"name": "onnx", "subgroup": "emotion.cnn"}) is None
        True
        >>> header_problem({"name": "../prod/torch", "subgroup": ""})
        "its name '../prod/torch' is not a valid model name"

    """
    if not isinstance(header, dict) or "name" not in header:
        return "it is not a mapping with a 'name'"
    try:
        check_name(header["name"])
    except ValueError:
        return f"its name {header['name']!r} is not a valid model name"
    try:
        check_subgroup(header.get("subgroup"))
    except ValueError:
        return f"its subgroup {header.get('subgroup')!r} is not a valid subgroup"
    return None


class ModelId(NamedTuple):
    r"""A model's ID as its two parts; its text is ``'<short_id>-<version>'``.

    A tuple, so ``short_id, version = model_id`` works where the parts are
    needed, and ``str(model_id)`` where the ID is shown or stored.

    Examples:
        >>> model_id = ModelId("8d99e4cf", "1.0.0")
        >>> str(model_id), model_id.version
        ('8d99e4cf-1.0.0', '1.0.0')

    """

    short_id: str
    version: str

    def __str__(self) -> str:
        return f"{self.short_id}-{self.version}"

    @property
    def uid(self) -> str:
        r"""The ID a user names the model by: a legacy ID stands alone.

        Examples:
            >>> ModelId("4756c243-4540-3577-4387-39c7529df405", "3.1.4").uid
            '4756c243-4540-3577-4387-39c7529df405'

        """
        return self.short_id if is_legacy_id(self.short_id) else str(self)


class Reference(NamedTuple):
    r"""What a user passed for a model, told apart once, where it is passed.

    :attr:`kind` is ``'model'`` for a full ID (``'<short_id>-<version>'``),
    ``'short'`` for a short ID (standing for its latest version),
    ``'legacy'`` for a legacy ID (a model of one version), and ``'alias'``
    for anything else.

    Examples:
        >>> Reference("8d99e4cf").kind, Reference("prod").kind
        ('short', 'alias')

    """

    text: str

    @property
    def kind(self) -> str:
        r"""``'model'``, ``'short'``, ``'legacy'`` or ``'alias'``."""
        if is_short_id(self.text):
            return "short"
        if is_legacy_id(self.text):
            return "legacy"
        if UID_PATTERN.fullmatch(self.text):
            return "model"
        return "alias"

    @property
    def is_alias(self) -> bool:
        r"""Whether it is taken as an alias."""
        return self.kind == "alias"


def split_uid(uid: str) -> ModelId:
    r"""Split ``'<short_id>-<version>'`` into its two parts.

    Examples:
        >>> split_uid("8d99e4cf-1.0.0-rc.1")
        ModelId(short_id='8d99e4cf', version='1.0.0-rc.1')

    """
    short, _, version = uid.partition("-")
    return ModelId(short, version)


def check_version(version: str) -> str:
    r"""Return ``version`` if it is a valid model version.

    Raises:
        ValueError: if ``version`` is not a semantic version
            that starts with a digit

    """
    if not is_version(version):
        raise errors.InvalidVersionError(
            f"'{version}' is not a valid version. "
            "Versions have to be semantic versions 'X.Y.Z', "
            "where X, Y, Z are integers, "
            "optionally followed by a suffix starting with '-', "
            "e.g. '1.0.0' or '1.0.0-prod'. "
            "Versions may only contain letters, digits, '.', '_', and '-', "
            "and have to start with a digit."
        )
    return version


def check_alias(alias: str) -> str:
    r"""Return ``alias`` if it can be used as an alias name.

    Raises:
        ValueError: if ``alias`` has characters outside ``[A-Za-z0-9._-]``
            or could be confused with a model ID

    """
    if not is_valid_alias(alias):
        raise errors.InvalidAliasError(
            f"'{alias}' is not an allowed alias name. "
            "Alias names may only contain letters, numbers, underscores, hyphens, "
            "and are not allowed to be confused with a model ID. "
            "Dots are allowed too, but not dots alone."
        )
    return alias


def check_name(name: str) -> str:
    r"""Return ``name`` if it can be used as a model name.

    The name becomes one folder of a backend path,
    so it must not contain a separator or consist of dots only;
    ``'_uid'`` and ``'_alias'`` are the repository's own folders.

    Raises:
        ValueError: if ``name`` is not a valid model name

    """
    if (
        not isinstance(name, str)
        or NAME_PATTERN.fullmatch(name) is None
        or set(name) == {"."}
    ):
        raise errors.InvalidNameError(
            f"'{name}' is not a valid model name. "
            "Names may only contain letters, digits, '.', '_', and '-', "
            "and must not consist of dots only."
        )
    if name in _layout.RESERVED_FOLDERS:
        raise errors.InvalidNameError(
            f"'{name}' is not a valid model name: "
            "it is reserved for the repository's own files."
        )
    return name


def check_subgroup(subgroup: str | None) -> str:
    r"""Return the subgroup, ``''`` for none, if it is valid.

    Each dot-separated part becomes one folder of a backend path.

    Raises:
        ValueError: if a part is empty, has characters outside
            ``[A-Za-z0-9_-]``, or the subgroup starts with
            ``'_uid'`` or ``'_alias'``

    """
    subgroup = subgroup or ""
    if not isinstance(subgroup, str):
        raise errors.InvalidSubgroupError(
            f"Subgroup must be a string, not {subgroup!r}."
        )
    if not subgroup:
        return subgroup
    parts = subgroup.split(".")
    if parts[0] in _layout.RESERVED_FOLDERS:
        raise errors.InvalidSubgroupError(
            f"It is not allowed to set subgroup to '{parts[0]}'."
        )
    for part in parts:
        if SUBGROUP_PART_PATTERN.fullmatch(part) is None:
            raise errors.InvalidSubgroupError(
                f"'{subgroup}' is not a valid subgroup. "
                "A subgroup consists of dot-separated parts, "
                "each made of letters, digits, '_', and '-'."
            )
    return subgroup
