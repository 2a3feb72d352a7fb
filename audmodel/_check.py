"""Checking a repository for damage, and repairing it.

One listing of the repository gives every stored file (see
:mod:`audmodel._store` for the layout). The files are sorted by the model
or alias they belong to, and then:

* every model with a header is checked: the header parses, its archive is
  there, matches the MD5 the backend stores and passes the CRC-32 of each
  entry, its files match its signature where it has one (checked with the
  trusted keys where some are configured), and its meta is there;
* files of a model without header are orphans: an archive, meta, aliases
  file or signature left by a publication or removal that died;
* every alias file names a model of the repository, and every model's
  aliases file lists exactly the aliases that point to it;
* publication claims of dead publishers, stale tickets and unfinished
  uploads (file-system staging files ending on ``~``) are leftovers.

A repair removes orphans and leftovers only when they are older than
:data:`GRACE_PERIOD` and no live claim covers their model, so that a
publication in progress is never touched; it rewrites aliases files and
writes an empty meta where it is missing. It never touches a model that
has its header and a sound archive, and leaves broken models to the user.

"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
import concurrent.futures
import dataclasses
import datetime
import os
import tempfile

from audmodel import _aliases
from audmodel import _archive
from audmodel import _ids
from audmodel import _layout
from audmodel import _output
from audmodel import _signature
from audmodel import _store
from audmodel import _transaction
from audmodel import _trust
from audmodel import _yaml
from audmodel import errors
from audmodel._lazy import audbackend
from audmodel._lazy import audeer
from audmodel._repository import Repository
from audmodel._threads import CHECK_READS
from audmodel.backend import _tickets
from audmodel.backend._common import ChecksumError


GRACE_PERIOD = datetime.timedelta(hours=1)
r"""Files younger than this are never removed by a repair."""


# The problems a check reports.
ARCHIVE_WITHOUT_HEADER = "archive without header"
FILE_WITHOUT_HEADER = "file without header"
HEADER_UNREADABLE = "header unreadable"
HEADER_WITHOUT_ARCHIVE = "header without archive"
ARCHIVE_BROKEN = "archive broken"
SIGNATURE_MISMATCH = "signature does not match"
META_MISSING = "meta missing"
ALIAS_UNREADABLE = "alias unreadable"
ALIAS_TO_NOTHING = "alias points to nothing"
ALIASES_FILE_WRONG = "aliases file wrong"
UNSAFE_NAME = "unsafe name"
STALE_CLAIM = "claim of a dead publisher"
STALE_TICKET = "ticket of a dead publisher"
UNFINISHED_UPLOAD = "unfinished upload"

# What a repair did, or why not.
REMOVED = "removed"
FIXED = "fixed"
KEPT_YOUNG = "kept: younger than an hour"
LEFT = "left to you: remove the model (audmodel.remove) or publish it again"


@dataclasses.dataclass
class Finding:
    r"""A problem found in a repository."""

    problem: str
    uid: str  # model ID, or alias name for problems of aliases
    path: str  # the stored file
    detail: str
    action: str = ""
    # What a repair does; returns the action taken. None: nothing to do.
    fix: Callable[[], str] | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass
class _Stored:
    r"""A file of the repository: its path for the interface and on the backend."""

    path: str  # unversioned, as the Maven interface takes it
    version: str
    stored: str  # as the backend has it


@dataclasses.dataclass
class _Inventory:
    headers: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    metas: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    aliases_files: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    signatures: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    claims: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    archives: dict[str, list[_Stored]] = dataclasses.field(default_factory=dict)
    aliases: dict[str, _Stored] = dataclasses.field(default_factory=dict)
    tickets: list[str] = dataclasses.field(default_factory=list)
    unfinished: list[str] = dataclasses.field(default_factory=list)
    unsafe: list[str] = dataclasses.field(default_factory=list)


def check(repository: Repository, repair: bool) -> list[Finding]:
    r"""Check a repository; see :func:`audmodel.check`."""
    with _store.opened(repository) as location:
        inventory = _inventory(location)
        _output.say(f"Checking {len(inventory.headers)} models.")
        live = _live_claims(location, inventory)
        findings = [
            *_leftovers(location, inventory, live),
            *_models(location, inventory),
            *_orphans(location, inventory, live),
            *_alias_findings(location, inventory, live),
        ]
        if repair:
            for finding in findings:
                finding.action = finding.fix() if finding.fix else LEFT
                _output.say(f"{finding.path}: {finding.action}")
    return findings


# --- what the repository holds ------------------------------------------------


def _inventory(location: _store.Location) -> _Inventory:
    r"""Sort the stored files by what they are."""
    inventory = _Inventory()
    for stored in _store.stored_files(location, "/"):
        if stored.endswith("~"):
            inventory.unfinished.append(stored)
            continue
        parsed = _layout.parse(stored)
        if parsed is None:
            continue
        folder, base, version, ext = parsed
        dots = any(part in (".", "..") for part in stored.split("/"))
        if dots or not _ids.is_safe_version(version):
            # Only a listing can hold such a name (an S3 key keeps '..');
            # a reader building paths from it would leave its folder.
            inventory.unsafe.append(stored)
            continue
        # Extensions unknown to the Maven interface end up in the base name:
        # '/_uid/<short_id>.aliases.yaml' is stored as
        # '/_uid/<short_id>.aliases/<version>/<short_id>.aliases-<version>.yaml'.
        path = f"{folder}/{base}{ext}"
        item = _Stored(path, version, stored)
        short_id, _, _ = base.partition(".")
        uid = str(_ids.ModelId(short_id, version))
        kind = path.rsplit("/", 1)[1][len(short_id) :]
        if folder == f"/{_layout.UID_FOLDER}":
            if kind.endswith(".ticket"):
                # A claim taken by a ticket is held by the ticket itself.
                if kind.startswith(f".{_layout.CLAIM_EXT}.") and uid not in (
                    inventory.claims
                ):
                    inventory.claims[uid] = item
                else:
                    inventory.tickets.append(stored)
                continue
            table = {
                f".{_layout.HEADER_EXT}": inventory.headers,
                f".{_layout.META_EXT}": inventory.metas,
                f".{_layout.ALIASES_EXT}": inventory.aliases_files,
                f".{_layout.SIGNATURE_EXT}": inventory.signatures,
                f".{_layout.CLAIM_EXT}": inventory.claims,
            }.get(kind)
            if table is not None:
                table[uid] = item
        elif folder == f"/{_layout.ALIAS_FOLDER}":
            if ext == f".{_layout.ALIAS_EXT}" and version == _layout.ALIAS_VERSION:
                inventory.aliases[base] = item
        elif ext == f".{_layout.ARCHIVE_EXT}":
            inventory.archives.setdefault(uid, []).append(item)
    return inventory


# --- publications in progress, and leftovers ----------------------------------------


def _live_claims(location: _store.Location, inventory: _Inventory) -> set[str]:
    r"""The models whose claim belongs to a publisher that may be running."""
    return {
        uid
        for uid, claim in inventory.claims.items()
        if not _claim_is_stale(location, claim)
    }


def _claim_is_stale(location: _store.Location, claim: _Stored) -> bool:
    holder = _transaction.read_claim(location, claim.stored)
    return _transaction.is_stale(holder) or _age(location, claim.stored) > GRACE_PERIOD


def _leftovers(
    location: _store.Location, inventory: _Inventory, live: set[str]
) -> Iterable[Finding]:
    for uid, claim in sorted(inventory.claims.items()):
        if uid not in live:
            what = "a publication, copy or removal"
            if uid.startswith(f"{_transaction.ALIASES_LOCK}-"):
                uid, what = "", "a change of aliases"
            yield Finding(
                STALE_CLAIM,
                uid,
                claim.stored,
                f"{what} that died",
                fix=_remover(location, claim.stored, young_too=True),
            )
    for ticket in sorted(inventory.tickets):
        if _tickets.age(ticket) > _tickets.STALE_AFTER:
            yield Finding(
                STALE_TICKET,
                "",
                ticket,
                "taken by a process that died",
                fix=_remover(location, ticket, young_too=True),
            )
    for stored in sorted(inventory.unfinished):
        yield Finding(
            UNFINISHED_UPLOAD,
            "",
            stored,
            "an upload that died",
            fix=_remover(location, stored),
        )
    for stored in sorted(inventory.unsafe):
        yield Finding(
            UNSAFE_NAME,
            "",
            stored,
            "its short ID or version could name a path outside its folder; "
            "readers leave it out",
        )


def _remover(
    location: _store.Location, stored: str, young_too: bool = False
) -> Callable[[], str]:
    r"""A fix that removes a stored file, unless it is younger than the grace."""

    def fix() -> str:
        if not young_too and _age(location, stored) < GRACE_PERIOD:
            return KEPT_YOUNG
        backend = location.interface.backend
        try:
            backend.remove_file(stored)
        except audbackend.BackendError:
            if backend.exists(stored):
                raise
        return REMOVED

    return fix


def _age(location: _store.Location, stored: str) -> datetime.timedelta:
    r"""Time since a stored file was written."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - location.capabilities.modified(stored)


# --- models --------------------------------------------------------------------------


def _models(location: _store.Location, inventory: _Inventory) -> Iterable[Finding]:
    r"""Check each model that has a header."""
    headers = _parallel(
        lambda uid: _store.read_yaml(
            location, inventory.headers[uid].path, inventory.headers[uid].version
        ),
        sorted(inventory.headers),
    )
    archives = {}
    for uid, header in headers.items():
        stored = inventory.headers[uid].stored
        reason = (
            header if isinstance(header, Exception) else _ids.header_problem(header)
        )
        if reason is not None:
            yield Finding(HEADER_UNREADABLE, uid, stored, str(reason))
            continue
        short_id, version = _ids.split_uid(uid)
        path = _layout.archive_path(short_id, header["name"], header.get("subgroup"))
        if not any(a.path == path for a in inventory.archives.get(uid, [])):
            yield Finding(
                HEADER_WITHOUT_ARCHIVE,
                uid,
                stored,
                f"'{_store.versioned_path(location, path, version)}' is missing",
            )
        else:
            archives[uid] = _Stored(
                path, version, _store.versioned_path(location, path, version)
            )
        if uid not in inventory.metas:
            yield Finding(
                META_MISSING,
                uid,
                stored,
                "the model has no meta file",
                fix=_empty_meta_writer(location, _ids.ModelId(short_id, version)),
            )
    damage = _parallel(
        lambda uid: _archive_damage(
            location, archives[uid], inventory.signatures.get(uid)
        ),
        archives,
    )
    for uid, reason in sorted(damage.items()):
        if isinstance(reason, Exception):
            raise reason
        if isinstance(reason, _Unsigned):
            stored = inventory.signatures[uid].stored
            yield Finding(SIGNATURE_MISMATCH, uid, stored, reason.detail, action=LEFT)
        elif reason is not None:
            yield Finding(ARCHIVE_BROKEN, uid, archives[uid].stored, reason)


def _empty_meta_writer(
    location: _store.Location, model: _ids.ModelId
) -> Callable[[], str]:
    short_id, version = model

    def fix() -> str:
        path = _layout.meta_path(short_id)
        _store.write_bytes(location, _yaml.dumps({}).encode(), path, version)
        return f"{FIXED}: empty meta written"

    return fix


@dataclasses.dataclass(frozen=True)
class _Unsigned:
    r"""How a model's files differ from its signature."""

    detail: str


def _archive_damage(
    location: _store.Location, archive: _Stored, signature: _Stored | None
) -> str | _Unsigned | None:
    r"""What is wrong with a stored archive, or its signature; ``None`` if nothing."""
    capabilities = location.capabilities
    try:
        with _store.local_copy(location, archive.path, archive.version) as local:
            # Downloads of backends that check their MD5 (S3, Artifactory)
            # raise ChecksumError instead; the others are checked here.
            if capabilities.stores_md5 and not capabilities.checks_downloads:
                expected = location.interface.checksum(archive.path, archive.version)
                actual = audeer.md5(local)
                if expected and expected != actual:
                    return f"its MD5 {actual} is not the stored {expected}"
            _archive.verify(local)
            if signature is not None:
                return _signature_damage(location, signature, local)
    except audbackend.BackendError as ex:
        if isinstance(ex.exception, ChecksumError):
            return str(ex.exception)
        raise
    except _archive.ArchiveError as ex:
        return str(ex)
    return None


def _signature_damage(
    location: _store.Location, signature: _Stored, archive: str
) -> _Unsigned | None:
    r"""How the files of an archive differ from the model's signature, if they do.

    The signature itself is checked with the trusted keys where some are
    configured; elsewhere what it says was signed is compared alone.

    """
    data = _store.read_bytes(location, signature.path, signature.version)
    try:
        bundle = _signature.Bundle(data, f"'{signature.stored}'", signature.stored)
        policy = _trust.policy()
        signed = (
            _signature.verified(bundle, policy.trust)
            if policy is not None and bundle.signer in policy.trust.keys
            else _signature.claimed(bundle)
        )
    except errors.SignatureError as ex:
        return _Unsigned(str(ex))
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "model")
        _archive.extract(archive, folder)
        problem = _signature.difference(signed, folder)
    if problem is None:
        return None
    return _Unsigned(f"{problem} (signed by {signed.signer})")


def _orphans(
    location: _store.Location, inventory: _Inventory, live: set[str]
) -> Iterable[Finding]:
    r"""Files of models that have no header and no live claim."""
    files = [
        *[(ARCHIVE_WITHOUT_HEADER, uid, a) for uid, a in _flat(inventory.archives)],
        *[(FILE_WITHOUT_HEADER, uid, m) for uid, m in inventory.metas.items()],
        *[(FILE_WITHOUT_HEADER, uid, a) for uid, a in inventory.aliases_files.items()],
        *[(FILE_WITHOUT_HEADER, uid, s) for uid, s in inventory.signatures.items()],
    ]
    for problem, uid, item in sorted(files, key=lambda file: file[2].stored):
        if uid in inventory.headers or uid in live:
            continue
        yield Finding(
            problem,
            uid,
            item.stored,
            "left by a publication or removal that died",
            fix=_remover(location, item.stored),
        )


def _flat(archives: dict[str, list[_Stored]]) -> list[tuple[str, _Stored]]:
    return [(uid, item) for uid, items in archives.items() for item in items]


# --- aliases -------------------------------------------------------------------------


def _alias_findings(
    location: _store.Location, inventory: _Inventory, live: set[str]
) -> Iterable[Finding]:
    r"""Check alias files, and that aliases files list the aliases of their model."""
    targets = _parallel(
        lambda alias: _aliases.read_alias(location, alias), sorted(inventory.aliases)
    )
    pointing: dict[str, set[str]] = {}
    for alias, target in targets.items():
        stored = inventory.aliases[alias].stored
        if isinstance(target, _aliases.AliasFileError):
            fix = _remover(location, stored)
            yield Finding(ALIAS_UNREADABLE, alias, stored, str(target), fix=fix)
        elif isinstance(target, Exception):
            raise target
        elif target is None:  # removed meanwhile
            continue
        elif target in inventory.headers:
            pointing.setdefault(target, set()).add(alias)
        elif target not in live:
            detail = f"it points to '{target}', which is not in the repository"
            fix = _remover(location, stored)
            yield Finding(ALIAS_TO_NOTHING, alias, stored, detail, fix=fix)
    with_file = sorted(set(inventory.aliases_files) & set(inventory.headers))
    listed = _parallel(
        lambda uid: set(_aliases.read_aliases(location, _ids.split_uid(uid))),
        with_file,
    )
    for uid in sorted(inventory.headers):
        want = pointing.get(uid, set())
        have = listed.get(uid, set())
        if have == want:
            continue
        short_id, version = _ids.split_uid(uid)
        path = _layout.aliases_path(short_id)
        stored = _store.versioned_path(location, path, version)
        if isinstance(have, Exception):
            detail = f"it cannot be read: {have}"
            have = set()
        else:
            detail = _aliases_difference(have, want)
        involved = [inventory.aliases[a].stored for a in (have ^ want) & want]
        if uid in inventory.aliases_files:
            involved.append(stored)
        fix = _aliases_writer(location, uid, sorted(want), involved)
        yield Finding(ALIASES_FILE_WRONG, uid, stored, detail, fix=fix)


def _aliases_difference(have: set[str], want: set[str]) -> str:
    r"""What an aliases file lists wrongly.

    Examples:
        >>> _aliases_difference({"a", "b"}, {"b", "c"})
        "it lists ['a'], which point elsewhere; it misses ['c']"

    """
    parts = []
    if have - want:
        parts.append(f"it lists {sorted(have - want)}, which point elsewhere")
    if want - have:
        parts.append(f"it misses {sorted(want - have)}")
    return "; ".join(parts)


def _aliases_writer(
    location: _store.Location, uid: str, aliases: list[str], involved: list[str]
) -> Callable[[], str]:
    def fix() -> str:
        if any(_age(location, stored) < GRACE_PERIOD for stored in involved):
            return KEPT_YOUNG
        short_id, version = _ids.split_uid(uid)
        text = _aliases.aliases_text(aliases).encode()
        _store.write_bytes(location, text, _layout.aliases_path(short_id), version)
        return f"{FIXED}: lists {aliases}"

    return fix


def _parallel(function: Callable, items: Iterable) -> dict:
    r"""``function`` of each item, in threads; an error is kept as the result."""

    def call(item: object) -> object:
        try:
            return function(item)
        except Exception as ex:
            return ex

    items = list(items)
    with concurrent.futures.ThreadPoolExecutor(CHECK_READS) as pool:
        return dict(zip(items, pool.map(call, items), strict=True))
