"""What the library tells the user while it works: all of it goes through here.

``verbose=True`` means the same in every function that takes it: a
progress bar on long transfers, one line on standard error for every other
step (which repository answered, whether the cache held a model, what was
written). Warnings stay :mod:`warnings`; errors stay exceptions.

A public function turns the lines on for its own call (through
``audmodel._call.entry``), so that the functions it calls need no
``verbose`` argument of their own to say what they do; the command line's
``-v`` turns them on for the whole command, also in functions whose
signature, kept from audmodel 1.5, has no ``verbose``.

A *note* (:func:`note`) is what a reader of an answer must know to take it
right, e.g. that it came from the caches offline: the command line always
shows notes, the Python functions with their steps.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
import contextlib
import contextvars
import datetime
import re
import sys
from typing import Any
from typing import TypeVar

from audmodel._lazy import audeer
from audmodel._lazy import difflib


_shown: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "audmodel_verbose", default=False
)

_noted: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "audmodel_notes", default=False
)

F = TypeVar("F", bound=Callable[..., Any])


def shown(verbose: bool = False) -> bool:
    r"""Whether steps are told: asked for here, or for the whole call.

    Examples:
        >>> shown(), shown(True)
        (False, True)

    """
    return verbose or _shown.get()


def say(message: str) -> None:
    r"""Tell one step, as one line on standard error, if steps are shown.

    Args:
        message: what was done, a sentence

    Examples:
        >>> say("Nothing to do.")  # not shown: no verbose call

    """
    if shown():
        print(printable(message), file=sys.stderr, flush=True)


def note(message: str) -> None:
    r"""Tell what a reader of the answer must know, as one line on standard error.

    Shown where notes are on (:func:`notes`, the command line) and where
    steps are shown.

    Examples:
        >>> note("Offline: answered from the caches.")  # not shown here

    """
    if _noted.get():
        print(f"audmodel: note: {printable(message)}", file=sys.stderr, flush=True)
    else:
        say(message)


@contextlib.contextmanager
def notes() -> Iterator[None]:
    r"""Show every note told inside the block, prefixed as the command line does."""
    token = _noted.set(True)
    try:
        yield
    finally:
        _noted.reset(token)


def human_size(size: float) -> str:
    r"""A size in bytes as people read it.

    Examples:
        >>> human_size(11), human_size(4096), human_size(3 * 1024**4)
        ('11 B', '4.0 KiB', '3072.0 GiB')

    """
    for unit in ["", "K", "M", "G"]:
        if size < 1024 or unit == "G":
            return f"{size:.0f} B" if not unit else f"{size:.1f} {unit}iB"
        size /= 1024
    return str(size)  # pragma: no cover


def human_time(value: object) -> str:
    r"""A date or a time as every page and table shows it.

    A date as ``YYYY-MM-DD``, a time to the second as
    ``YYYY-MM-DD HH:MM:SS`` (ISO 8601 with a space); text in ISO form is
    read first. Anything else as it is.

    Examples:
        >>> import datetime
        >>> human_time(datetime.date(2024, 5, 1))
        '2024-05-01'
        >>> human_time("2026-12-03T15:11:34.512")
        '2026-12-03 15:11:34'

    """
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        value = parsed.date() if len(value) == len("YYYY-MM-DD") else parsed
    if isinstance(value, datetime.datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else str(value)


def in_order_given(mappings: Iterable[Mapping[str, object] | None]) -> list[str]:
    r"""The keys of several mappings, each where it first appears.

    Parameters and meta are shown in the order they were published in,
    on every page and in every table.

    Examples:
        >>> in_order_given([{"task": 1, "rate": 2}, {"batch": 3, "task": 4}])
        ['task', 'rate', 'batch']

    """
    return list(dict.fromkeys(str(k) for m in mappings if m for k in m))


def did_you_mean(text: str, candidates: Iterable[object]) -> str:
    r"""A hint naming the candidates closest to ``text``, empty if none is close.

    Errors keep audmodel 1.5's first sentence; this follows it.

    Examples:
        >>> did_you_mean("repositorys", ["cache_root", "repositories"])
        " Did you mean 'repositories'?"
        >>> did_you_mean("x", ["cache_root"])
        ''

    """
    close = difflib.get_close_matches(str(text), [str(c) for c in candidates])
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


# C0 controls but tab and newline, DEL, and C1 controls (the 8-bit CSI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""Text with its control characters written out, safe to show on a terminal.

    What a repository holds (a header's author, a file's name) reaches the
    user's terminal; an escape sequence in it could rewrite the screen,
    the window's title or the clipboard. Each control character but tab
    and newline is shown as its escape instead.

    Examples:
        >>> printable("Ann\x1b]0;owned\x07 Smith")
        'Ann\\x1b]0;owned\\x07 Smith'

    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class PrintableStream:
    r"""A text stream that writes what it is given through :func:`printable`.

    Args:
        stream: the stream written to, e.g. :data:`sys.stdout`

    """

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        r"""Write ``text``, its control characters written out."""
        return self._stream.write(printable(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def verbose(on: bool = True) -> Iterator[None]:
    r"""Show every step told inside the block (and keep showing if already on).

    Examples:
        >>> with verbose():
        ...     shown()
        True

    """
    token = _shown.set(_shown.get() or bool(on))
    try:
        yield
    finally:
        _shown.reset(token)


@contextlib.contextmanager
def progress(
    total: int, description: str, verbose: bool = False
) -> Iterator[Callable[[int], object]]:
    r"""A progress bar over ``total`` bytes, if steps are shown; yields its update.

    Examples:
        >>> with progress(10, "Download model.zip") as update:
        ...     _ = update(10)

    """
    bar = audeer.progress_bar(
        total=total,
        desc=audeer.format_display_message(description, pbar=True),
        disable=not shown(verbose),
    )
    # Sizes and speed as people read them ("11.0M/30.0M 107MB/s").
    bar.unit, bar.unit_scale, bar.unit_divisor = "B", True, 1024
    bar.bar_format = (
        "{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {rate_fmt} "
        "[{elapsed}<{remaining}] {desc}"
    )
    bar.refresh()  # drawn first in audeer's format, without sizes
    try:
        yield bar.update
    finally:
        bar.close()
