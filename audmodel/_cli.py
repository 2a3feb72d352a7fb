"""The command line: ``audmodel COMMAND ...``, one command per API function.

Every command calls the function of the same name and prints its answer:
a model ID, a folder or a URL as one line, a list one item a line,
a header or meta as YAML. Errors a user can mend (a missing model,
a bad name, an unreachable repository) print one line starting with
``audmodel: error:`` and exit with status 1; ``exists`` exits with 1 if the
model is not there.

"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import datetime
import json
import os
import re
import sys
from typing import TYPE_CHECKING
from typing import Any
from typing import NoReturn
import warnings

import audmodel
from audmodel import _config
from audmodel import _json
from audmodel import _lazy
from audmodel import _output
from audmodel import _yaml
from audmodel import errors
from audmodel._config import USER_CONFIG_FILE
from audmodel._defaults import CATALOG_HOST
from audmodel._defaults import CATALOG_PORT
from audmodel._defaults import COMPRESSION
from audmodel._defaults import LOAD_TIMEOUT
from audmodel._defaults import URL_TYPES
from audmodel._lazy import audbackend
from audmodel.backend._common import backend_error_detail
from audmodel.backend._common import without_userinfo


if TYPE_CHECKING:
    import pandas

    from audmodel import _cache
    from audmodel import _tables
    from audmodel import _ui
else:  # only some commands need them (see audmodel._lazy)
    _cache = _lazy.module("audmodel._cache", globals())
    _tables = _lazy.module("audmodel._tables", globals())
    _ui = _lazy.module("audmodel._ui", globals())


class _Version(argparse.Action):
    r"""Print the version, looked up only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"audmodel {audmodel.__version__}")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    r"""Run the command line.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` if ``None``

    Returns:
        exit status: 0 on success, 1 on an error or a missing model,
        2 on wrong usage, 130 on Ctrl+C

    Examples:
        >>> main(["uid", "onnx", "1.0.0", "-p", "sampling_rate=16000"])
        7a704d69-1.0.0
        0

    """
    parser = _parser()
    args = parser.parse_args(argv)
    with _printable_output():
        return _run(args)


@contextlib.contextmanager
def _printable_output() -> Iterator[None]:
    r"""Standard output and warnings, their control characters written out.

    What is printed comes in part from repositories (authors, file names,
    meta), which anyone who can write there chose.

    """
    with (
        contextlib.redirect_stdout(_output.PrintableStream(sys.stdout)),
        warnings.catch_warnings(),
    ):
        warnings.showwarning = _show_warning
        yield


def _show_warning(message: Warning | str, *_: object, **__: object) -> None:
    r"""A warning as one line on standard error, as the command line says it."""
    line = " ".join(str(message).split())
    print(f"audmodel: warning: {_output.printable(line)}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    r"""Run the command ``args`` asks for; see :func:`main`."""
    try:
        with _output.verbose(args.verbose), _output.notes():
            if getattr(args, "repository", None):
                audmodel.config.REPOSITORIES = [
                    _repository_argument(*given) for given in args.repository
                ]
            return args.run(args)
    except KeyboardInterrupt:
        print("audmodel: interrupted", file=sys.stderr)
        return 130
    except audbackend.BackendError as ex:
        detail = backend_error_detail(ex) + _default_repository_hint(args)
        return _error(detail, args.commands)
    except (OSError, RuntimeError, ValueError) as ex:
        return _error(str(ex), args.commands)
    except Exception as ex:  # anything else, still in one line
        return _error(f"{type(ex).__name__}: {ex}", args.commands)


def _error(message: str, commands: frozenset[str]) -> int:
    r"""Print one line on standard error, speaking of commands; exit status 1.

    The API's messages name functions (``audmodel.set_alias``); on the
    command line they name the command that does the same.

    """

    def command(match: re.Match) -> str:
        name = match.group(1).replace("_", "-")
        return f"audmodel {name}" if name in commands else match.group(0)

    line = re.sub(r"\baudmodel\.([a-z_]+)\b(?:\(\))?", command, message)
    line = _output.printable(" ".join(line.split()))
    print(f"audmodel: error: {line}", file=sys.stderr)
    return 1


def _repository_argument(name: str, host: str, backend: str) -> audmodel.Repository:
    r"""A repository given by ``-r`` or ``--to``, its backend checked.

    Raises:
        ValueError: naming the registered backends if ``backend`` is not one

    """
    registry = audmodel.Repository.backend_registry
    if backend not in registry:
        registered = ", ".join(sorted(registry))
        raise errors.InvalidArgumentError(
            f"'{backend}' is not a registered backend; registered are: {registered}."
        )
    return audmodel.Repository(name, host, backend)


def _default_repository_hint(args: argparse.Namespace) -> str:
    r"""What to do when the repository shipped as default cannot be reached."""
    user_file = os.path.expanduser(USER_CONFIG_FILE)
    if getattr(args, "repository", None) or os.path.exists(user_file):
        return ""
    return (
        " (No repository is configured, so audmodel searched its default, "
        "the public S3 bucket 'audmodel-public'. To use your own, list it in "
        f"{USER_CONFIG_FILE} or pass -r NAME HOST BACKEND.)"
    )


# --- commands ----------------------------------------------------------------


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"cache_root": args.cache_root, "verbose": args.verbose}


def _publish(args: argparse.Namespace) -> int:
    uid = audmodel.publish(
        args.root,
        args.name,
        _params(args),
        args.model_version,
        alias=args.alias,
        author=args.author,
        compression=args.compression,
        date=args.date,
        meta=_mapping_file(args.meta, "meta", "--meta") if args.meta else None,
        subgroup=args.subgroup,
        signing_key=args.sign,
        verbose=args.verbose,
    )
    print(uid)
    return 0


def _load(args: argparse.Namespace) -> int:
    if args.file is not None:
        path = audmodel.load_file(
            args.id, args.file, timeout=args.timeout, **_options(args)
        )
        print(path)
        return 0
    folder = audmodel.load(
        args.id, files=args.include, timeout=args.timeout, **_options(args)
    )
    print(folder)
    return 0


def _exists(args: argparse.Namespace) -> int:
    found = audmodel.exists(args.id)
    print("true" if found else "false")
    return 0 if found else 1


def _uid(args: argparse.Namespace) -> int:
    params = _params(args)
    print(audmodel.uid(args.name, params, args.model_version, subgroup=args.subgroup))
    return 0


def _update_meta(args: argparse.Namespace) -> int:
    meta = _mapping_file(args.file, "meta", "FILE")
    new = audmodel.update_meta(args.id, meta, replace=args.replace, **_options(args))
    print(_yaml.dumps(new), end="")
    return 0


def _set_alias(args: argparse.Namespace) -> int:
    audmodel.set_alias(args.alias, args.id, **_options(args))
    return 0


def _signature(args: argparse.Namespace) -> int:
    print(audmodel.signature(args.id, **_options(args)))
    return 0


def _verify(args: argparse.Namespace) -> int:
    print(audmodel.verify_signature(args.id, args.public_key, **_options(args)))
    return 0


def _url(args: argparse.Namespace) -> int:
    print(audmodel.url(args.id, type=args.type, **_options(args)))
    return 0


def _repository(args: argparse.Namespace) -> int:
    found = audmodel.repository(args.id, cache_root=args.cache_root)
    entry = {"name": found.name, "host": found.host, "backend": found.backend}
    print(_yaml.dumps(entry), end="")
    return 0


def _ls(args: argparse.Namespace) -> int:
    table = audmodel.available(
        name=args.name,
        subgroup=args.subgroup,
        version=args.model_version,
        params=_params(args) or None,
        latest=args.latest,
        **_options(args),
    )
    if args.format == "text":
        table = table.assign(parameters=table["parameters"].map(_inline))
    _print_table(table, args.format)
    return 0


def _lookup_table(args: argparse.Namespace) -> int:
    table = audmodel.lookup_table(
        args.name,
        subgroup=args.subgroup,
        version=args.model_version,
        **_options(args),
    )
    _print_table(table, args.format)
    return 0


def _files(args: argparse.Namespace) -> int:
    table = audmodel.files(args.id, **_options(args))
    if args.format == "text":
        table = table.assign(crc32=table["crc32"].map("{:08x}".format))
    _print_table(table, args.format)
    return 0


def _print_table(table: pandas.DataFrame, form: str) -> None:
    r"""Print a table: aligned columns, or JSON records for scripts."""
    if form == "json":
        records = [
            {table.index.name: index, **row}
            for index, row in zip(table.index, table.to_dict("records"), strict=True)
        ]
        print(json.dumps(_json.plain(records), indent=2))
    elif table.empty:
        print("(none)")
    else:
        print(_readable(table).to_string())


def _readable(table: pandas.DataFrame) -> pandas.DataFrame:
    r"""Sizes and times in the one format the catalog shows them in too."""
    shown = {}
    for column in table.columns:
        values = table[column]
        if column == "size":
            shown[column] = values.map(_output.human_size)
        elif any(isinstance(v, datetime.date) for v in values):
            shown[column] = values.map(_output.human_time)
    return table.assign(**shown)


def _inline(params: dict) -> str:
    r"""Parameters on one line, e.g. ``model=cnn10 sampling_rate=16000``."""
    return " ".join(f"{key}={value}" for key, value in params.items())


def _remove(args: argparse.Namespace) -> int:
    question = f"Remove model {args.id} from its repository? This cannot be undone."
    if not _confirmed(args, question):
        return _nothing_done()
    audmodel.remove(args.id, **_options(args))
    return 0


def _remove_alias(args: argparse.Namespace) -> int:
    if not _confirmed(args, f"Remove alias {args.alias}?"):
        return _nothing_done()
    audmodel.remove_alias(args.alias, verbose=args.verbose)
    return 0


def _copy(args: argparse.Namespace) -> int:
    target = _repository_argument(*args.to)
    for alias in audmodel.copy(args.id, target, aliases=args.aliases, **_options(args)):
        print(alias)
    return 0


def _check(args: argparse.Namespace) -> int:
    if args.repair and not _confirmed(
        args, "Remove orphaned files and rewrite aliases files?"
    ):
        return _nothing_done()
    table = audmodel.check(repair=args.repair, verbose=args.verbose)
    table = table.set_index("repository")
    if not args.repair:
        table = table.drop(columns="action", errors="ignore")
    _print_table(table, args.format)
    if args.repair and not table.empty:
        table = table[table["action"].str.startswith(("left", "kept"))]
    return 1 if len(table) else 0


def _cache_verify(args: argparse.Namespace) -> int:
    table = audmodel.verify_cached(args.id, cache_root=args.cache_root)
    _print_table(table, args.format)
    return 1 if not table.empty else 0


def _serve_catalog(args: argparse.Namespace) -> int:
    shared = None if args.cache_root else audmodel.default_cache_root(shared=True)
    catalog = _ui.Catalog(
        list(audmodel.config.REPOSITORIES),
        _cache.root_path(args.cache_root or audmodel.default_cache_root()),
        shared=_cache.root_path(shared) if shared else None,
    )
    try:
        _ui.serve(catalog, args.host, args.port, args.open, args.allow_host or ())
    except ImportError as ex:
        raise errors.CatalogError(str(ex)) from None
    return 0


def _nothing_done() -> int:
    print("audmodel: nothing done", file=sys.stderr)
    return 1


def _cache_ls(args: argparse.Namespace) -> int:
    table = audmodel.cached(cache_root=args.cache_root)
    _print_table(table, args.format)
    return 0


def _cache_rm(args: argparse.Namespace) -> int:
    if not _confirmed(args, f"Remove {args.id} from the cache?"):
        return _nothing_done()
    removed = audmodel.remove_cached(args.id, cache_root=args.cache_root)
    if not removed:
        root = args.cache_root or audmodel.default_cache_root()
        raise errors.NotCachedError(
            f"'{args.id}' is not in the cache '{root}': nothing was removed. "
            "'audmodel cache ls' lists what is there."
        )
    for uid in removed:
        print(uid)
    return 0


def _cache_prune(args: argparse.Namespace) -> int:
    if args.older_than is None and args.max_size is None:
        raise errors.InvalidArgumentError("Give --older-than, --max-size or both.")
    return _remove_cached(
        args,
        "Remove the models this selects from the cache?",
        older_than=args.older_than,
        max_size=args.max_size,
    )


def _remove_cached(args: argparse.Namespace, question: str, **which: Any) -> int:
    if not _confirmed(args, question):
        return _nothing_done()
    for uid in audmodel.remove_cached(cache_root=args.cache_root, **which):
        print(uid)
    return 0


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    r"""``--yes``, or a yes typed on a terminal; never a guess without one."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise errors.InvalidArgumentError(
            "Not asking without a terminal: add --yes to go ahead."
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _age(text: str) -> datetime.timedelta:
    r"""A time span such as ``30d``, ``12h``, ``45m`` or ``90s``."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.replace(".", "", 1).isdigit():
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a time span such as 30d, 12h, 45m or 90s"
        )
    return datetime.timedelta(**{units[unit]: float(number)})


SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size(text: str) -> int:
    r"""A size such as ``50G``, ``500M``, ``100K`` or ``1234`` (bytes)."""
    clean = text.upper().removesuffix("B").removesuffix("I")
    number, unit = (clean[:-1], clean[-1]) if clean[-1:].isalpha() else (clean, "")
    if unit not in SIZE_UNITS or not number.replace(".", "", 1).isdigit():
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a size such as 50G, 500M, 100K or 1234"
        )
    return int(float(number) * SIZE_UNITS[unit])


def _lookup(
    function: str, show: Callable[[Any], str]
) -> Callable[[argparse.Namespace], int]:
    r"""A command that prints what the API function ``function`` answers."""

    def run(args: argparse.Namespace) -> int:
        options = {} if function in NO_CACHE_ROOT else {"cache_root": args.cache_root}
        print(show(getattr(audmodel, function)(args.id, **options)), end="")
        return 0

    return run


def _line(value: object) -> str:
    return f"{value}\n"


def _lines(values: list) -> str:
    return "".join(f"{value}\n" for value in values)


# Commands that print one thing about a model: the API function of that
# name, how its answer is printed, and the help. Each function takes
# cache_root, except those in NO_CACHE_ROOT (their signatures are
# audmodel 1.5's).
LOOKUPS: dict[str, tuple[str, Callable[[Any], str], str]] = {
    "header": ("header", _yaml.dumps, "header of a model, as YAML"),
    "meta": ("meta", _yaml.dumps, "meta of a model, as YAML"),
    "parameters": ("parameters", _yaml.dumps, "parameters, as YAML"),
    "name": ("name", _line, "name of a model"),
    "subgroup": ("subgroup", _line, "subgroup of a model"),
    "author": ("author", _line, "author of a model"),
    "date": ("date", _line, "publication date of a model"),
    "version": ("version", _line, "version of a model"),
    "versions": ("versions", _lines, "versions of a model, oldest first"),
    "latest-version": ("latest_version", _line, "latest version of a model"),
    "aliases": ("aliases", _lines, "aliases of a model"),
    "resolve-alias": ("resolve_alias", _line, "model ID an alias stands for"),
}
NO_CACHE_ROOT = {"latest_version"}


# --- arguments ---------------------------------------------------------------


def _params(args: argparse.Namespace) -> dict[str, object]:
    r"""Parameters from ``--params FILE``, updated by each ``-p KEY=VALUE``."""
    params = _mapping_file(args.params, "params", "--params") if args.params else {}
    for item in args.param:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise errors.InvalidArgumentError(
                f"A parameter must be given as KEY=VALUE, not '{item}'."
            )
        params[key] = _yaml.loads(value, f"the value of parameter '{key}'")
    return params


def _mapping_file(path: str, what: str, argument: str) -> dict[str, object]:
    r"""A YAML file holding a mapping, read safely; ``argument`` named in errors."""
    if not os.path.isfile(path):
        there = "is a folder" if os.path.isdir(path) else "does not exist"
        raise errors.InvalidArgumentError(
            f"{argument} {path}: the file {there}; a YAML file is expected."
        )
    data = _yaml.load_file(path, f"the {what} file '{path}'", limit=None)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise errors.InvalidArgumentError(
            f"The {what} file '{path}' must hold a YAML mapping."
        )
    return data


def _port(text: str) -> int:
    r"""A TCP port: 0 (any free one) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port (0 to 65535)")
    return int(text)


def _compression(text: str) -> int | str:
    if text == COMPRESSION:
        return text
    if text.isdigit() and int(text) <= 9:
        return int(text)
    raise argparse.ArgumentTypeError(f"'{text}' is neither '{COMPRESSION}' nor 0-9")


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date of the form YYYY-MM-DD"
        ) from None


VERBOSE_HELP = "tell each step on standard error, with progress bars for transfers"


# Adds a command with the common options: name, function to run, help.
_Command = Callable[[str, Callable, str], argparse.ArgumentParser]


class _Parser(argparse.ArgumentParser):
    r"""argparse's parser; a mistyped command or choice gets the closest named."""

    def error(self, message: str) -> NoReturn:
        mistyped = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if mistyped:
            choices = re.findall(r"'([^']*)'", mistyped.group(2))
            message += _output.did_you_mean(mistyped.group(1), choices)
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audmodel",
        description="Publish, version and load machine-learning models.",
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show the version and exit"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    verbose = _verbose_option()
    common = _common_options(verbose)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    commands.required = True

    def command(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        return _subcommand(commands, common, name, run, help)

    def local(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        # A command that asks no repository and no cache takes neither.
        return _subcommand(commands, verbose, name, run, help)

    _add_model_commands(command, local)
    _add_lookup_commands(command)
    _add_search_commands(command)
    _add_lifecycle_commands(command)
    _add_catalog_command(command)
    _add_cache_commands(commands, common)
    _add_change_commands(command)
    parser.set_defaults(commands=frozenset(commands.choices))
    return parser


def _verbose_option() -> argparse.ArgumentParser:
    r"""``-v``, which every command takes."""
    verbose = argparse.ArgumentParser(add_help=False)
    # Given before the command or after it; SUPPRESS keeps the command's
    # parser from resetting what was given before it.
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=VERBOSE_HELP,
    )
    return verbose


def _common_options(verbose: argparse.ArgumentParser) -> argparse.ArgumentParser:
    r"""The options of the commands that use repositories or a cache."""
    common = argparse.ArgumentParser(add_help=False, parents=[verbose])
    common.add_argument(
        "-r",
        "--repository",
        nargs=3,
        action="append",
        metavar=("NAME", "HOST", "BACKEND"),
        help="repository to use instead of the configured ones; "
        "repeat for several, searched in the given order",
    )
    common.add_argument(
        "--cache-root",
        metavar="FOLDER",
        help="cache folder (default: the configured one, ~/audmodel unless "
        "set; 'audmodel config' shows it)",
    )
    return common


def _add_model_commands(command: _Command, local: _Command) -> None:
    r"""publish, load, exists, uid (``local``: it asks no repository)."""
    sub = command("publish", _publish, "publish a model folder; prints its ID")
    sub.add_argument("root", metavar="ROOT", help="folder with the model files")
    sub.add_argument("name", metavar="NAME", help="model name")
    sub.add_argument("model_version", metavar="VERSION", help="e.g. 1.0.0")
    _add_params(sub)
    sub.add_argument("--alias", help="alias for the model")
    sub.add_argument("--author", help="author (default: the user name)")
    sub.add_argument(
        "--compression",
        type=_compression,
        default=COMPRESSION,
        metavar=f"{{{COMPRESSION},0-9}}",
        help=f"'{COMPRESSION}' (default), 0 to store, 1-9 to deflate every file",
    )
    sub.add_argument("--date", type=_date, help="publication date, YYYY-MM-DD")
    sub.add_argument("--meta", metavar="FILE", help="YAML file with the meta")
    sub.add_argument(
        "--sign",
        metavar="KEY",
        help="PEM file of the private key to sign the model with "
        "(default: the setting signing_key; needs the extra 'sign')",
    )

    sub = command("load", _load, "load a model into the cache; prints its folder")
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    sub.add_argument(
        "--timeout",
        type=float,
        default=LOAD_TIMEOUT,
        help="seconds to wait for the cache lock (default: %(default)s)",
    )
    some = sub.add_mutually_exclusive_group()
    some.add_argument(
        "--include",
        action="append",
        metavar="PATTERN",
        help="fetch only the files matching this glob pattern (repeatable); "
        "prints the folder holding them",
    )
    some.add_argument(
        "--file",
        metavar="PATH",
        help="fetch only this file (its path in the model); prints its path",
    )

    sub = command("exists", _exists, "tell if a model exists; exit 1 if not")
    sub.add_argument("id", metavar="ID", help="model ID or alias")

    sub = local("uid", _uid, "model ID of a name and parameters")
    sub.add_argument("name", metavar="NAME", help="model name")
    _add_params(sub)
    sub.add_argument(
        "model_version",
        metavar="VERSION",
        nargs="?",
        help="model version (default: the short ID alone)",
    )


def _add_lookup_commands(command: _Command) -> None:
    r"""One command per entry of :data:`LOOKUPS`."""
    for name, (function, printer, help) in LOOKUPS.items():
        sub = command(name, _lookup(function, printer), help)
        if name == "resolve-alias":
            sub.add_argument("id", metavar="ALIAS", help="alias")
        else:
            sub.add_argument("id", metavar="ID", help="model ID or alias")


def _show_config(args: argparse.Namespace) -> int:
    r"""Print each setting and where its value comes from, as YAML."""
    for key, value, origin in _config.effective():
        if key == "repositories" and isinstance(value, list):
            if args.repository:
                origin = "command line (-r)"
            print(f"repositories:  # {origin}")
            for repository in value:
                print(f"  - name: {repository.name}")
                print(f"    host: {without_userinfo(repository.host)}")
                print(f"    backend: {repository.backend}")
        else:
            print(f"{key}: {_yaml_scalar(value)}  # {origin}")
    return 0


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _add_search_commands(command: _Command) -> None:
    r"""ls, lookup, files."""
    sub = command("ls", _ls, "list models, filtered by name, subgroup, parameters")
    sub.add_argument("--name", help="keep models of this name")
    sub.add_argument(
        "--version", dest="model_version", help="keep models of this version"
    )
    sub.add_argument(
        "--latest", action="store_true", help="keep the latest version of each"
    )
    _add_params(sub)
    _add_format(sub)

    sub = command("lookup", _lookup_table, "parameters of the models of a name")
    sub.add_argument("name", metavar="NAME", help="model name")
    sub.add_argument("--subgroup", help="keep models of this subgroup or below")
    sub.add_argument(
        "--version", dest="model_version", help="keep models of this version"
    )
    _add_format(sub)

    sub = command("files", _files, "files of a model, without downloading it")
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    _add_format(sub)

    command("config", _show_config, "the settings in effect, and where each comes from")


def _add_lifecycle_commands(command: _Command) -> None:
    r"""remove, remove-alias, copy, check."""
    sub = command("remove", _remove, "remove a model version from its repository")
    sub.add_argument("id", metavar="ID", help="model ID")
    _add_yes(sub)

    sub = command("remove-alias", _remove_alias, "remove an alias")
    sub.add_argument("alias", metavar="ALIAS", help="alias")
    _add_yes(sub)

    sub = command("copy", _copy, "publish a model in another repository")
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    sub.add_argument(
        "--to",
        nargs=3,
        required=True,
        metavar=("NAME", "HOST", "BACKEND"),
        help="the repository to copy to",
    )
    sub.add_argument(
        "--aliases", action="store_true", help="point the model's aliases there too"
    )

    sub = command("check", _check, "check repositories for damage; exit 1 if found")
    sub.add_argument(
        "--repair",
        action="store_true",
        help="remove orphans older than an hour, fix aliases files",
    )
    _add_yes(sub)
    _add_format(sub)


def _add_catalog_command(command: _Command) -> None:
    r"""Ui."""
    sub = command(
        "ui", _serve_catalog, "serve a read-only catalog of the models in a browser"
    )
    sub.add_argument(
        "--host",
        default=CATALOG_HOST,
        help="address to listen on (default: %(default)s)",
    )
    sub.add_argument(
        "--port",
        type=_port,
        default=CATALOG_PORT,
        help="port to listen on (default: %(default)s)",
    )
    sub.add_argument(
        "--allow-host",
        action="append",
        metavar="NAME",
        help="a host name to answer to besides the address and localhost "
        "(repeat for several); requests naming others are refused",
    )
    sub.add_argument("--open", action="store_true", help="open it in a browser")


def _add_cache_commands(
    commands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    r"""Cache ls, rm, prune, verify."""
    cache = commands.add_parser(
        "cache",
        help="models in the cache: ls, rm, prune, verify",
        description="the cache",
    )
    actions = cache.add_subparsers(title="actions", metavar="ACTION")
    actions.required = True

    def action(name: str, run: Callable, help: str) -> argparse.ArgumentParser:
        return _subcommand(actions, common, name, run, help)

    sub = action("ls", _cache_ls, "list the models in the cache")
    _add_format(sub)
    sub = action("rm", _cache_rm, "remove a model (or all versions) from the cache")
    sub.add_argument("id", metavar="ID", help="model ID, or short ID")
    _add_yes(sub)
    sub = action("prune", _cache_prune, "remove unused models from the cache")
    sub.add_argument(
        "--older-than",
        type=_age,
        metavar="AGE",
        help="remove models not loaded for this long, e.g. 30d or 12h",
    )
    sub.add_argument(
        "--max-size",
        type=_size,
        metavar="SIZE",
        help="remove the least recently loaded until this is left, e.g. 50G",
    )
    _add_yes(sub)
    sub = action("verify", _cache_verify, "compare cached models with their archives")
    sub.add_argument(
        "id", metavar="ID", nargs="?", help="model ID or short ID (default: all)"
    )
    _add_format(sub)


def _add_change_commands(command: _Command) -> None:
    r"""update-meta, set-alias, url, repository."""
    sub = command("update-meta", _update_meta, "merge a YAML file into the meta")
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    sub.add_argument("file", metavar="FILE", help="YAML file with the meta")
    sub.add_argument(
        "--replace", action="store_true", help="replace the meta instead of merging"
    )

    sub = command("set-alias", _set_alias, "point an alias at a model")
    sub.add_argument("alias", metavar="ALIAS", help="alias")
    sub.add_argument("id", metavar="ID", help="model ID")

    sub = command("url", _url, "where a file of a model is stored")
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    sub.add_argument(
        "--type",
        choices=URL_TYPES,
        default=URL_TYPES[0],
        help="which file: the model's archive, its header or its meta "
        "(default: %(default)s)",
    )

    sub = command("repository", _repository, "repository of a model, as YAML")
    sub.add_argument("id", metavar="ID", help="model ID or alias")

    sub = command(
        "verify",
        _verify,
        "check a model against its signature; prints the signing key's fingerprint",
    )
    sub.add_argument("id", metavar="ID", help="model ID or alias")
    sub.add_argument(
        "--public-key",
        metavar="PEM",
        help="public key (or root certificate) to check with "
        "(default: the trusted keys)",
    )

    sub = command("signature", _signature, "fetch a model's signature; prints its path")
    sub.add_argument("id", metavar="ID", help="model ID or alias")


def _subcommand(
    group: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    run: Callable,
    help: str,
) -> argparse.ArgumentParser:
    r"""A command of ``group`` with the common options, running ``run``."""
    sub = group.add_parser(name, parents=[common], help=help, description=help)
    sub.set_defaults(run=run)
    return sub


def _add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask; needed where standard input is not a terminal",
    )


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="aligned columns (default), or JSON records for scripts",
    )


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter; the value is read as YAML "
        "(16000 is a number, '\"16000\"' a string); repeat for several",
    )
    parser.add_argument(
        "--params", metavar="FILE", help="YAML file with the parameters"
    )
    parser.add_argument("--subgroup", help="dot-separated subgroup, e.g. emotion.cnn")
