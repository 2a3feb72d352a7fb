"""One call of the public API: what it opened and learned, kept until it returns.

A public function wears :func:`entry`. Its call opens each repository at
most once (:meth:`Call.location`), however many rooms ask a question of
it, and remembers which repositories could not be reached, so that a
second question in the same call does not wait for the same timeout
again. A public function called by another one joins the outer call.
Threads a call starts do not see it, and open repositories of their own.

"""

from __future__ import annotations

from collections.abc import Callable
import contextvars
import functools
from typing import Any
from typing import Generic
from typing import TypeVar

from audmodel import _output
from audmodel import errors


F = TypeVar("F", bound=Callable[..., Any])
L = TypeVar("L")


class Call(Generic[L]):
    r"""What one public call opened and learned.

    Examples:
        >>> call = Call()
        >>> call.location("models", lambda repository: [repository], print)
        ['models']
        >>> call.location("models", lambda repository: [], print)  # opened once
        ['models']
        >>> call.close()
        ['models']

    """

    def __init__(self) -> None:
        self._locations: dict[object, L] = {}
        self._closers: list[Callable[[], object]] = []
        self.unreachable: dict[object, Exception] = {}
        r"""Repositories that could not be reached, and the error each gave."""
        self.owners: dict[tuple[str, str], Any] = {}
        r"""The repository of each model found in this call, by ID and version."""
        self._settings: dict[str, Any] = {}

    def location(
        self,
        repository: Any,
        open: Callable[[Any], L],
        close: Callable[[L], object],
    ) -> L:
        r"""``repository`` opened by ``open``, the first time it is asked for.

        ``close`` closes it when the call ends.

        """
        if repository not in self._locations:
            location = open(repository)
            self._locations[repository] = location
            self._closers.append(functools.partial(close, location))
        return self._locations[repository]

    def setting(self, name: str, read: Callable[[], Any]) -> Any:
        r"""A setting as this call uses it: read by ``read`` at its first use.

        So that one call sees one configuration, however many rooms ask.

        """
        if name not in self._settings:
            self._settings[name] = read()
        return self._settings[name]

    def close(self) -> None:
        r"""Close what the call opened."""
        for close in self._closers:
            close()
        self._closers.clear()
        self._locations.clear()


_current: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "audmodel_call", default=None
)


def current() -> Call | None:
    r"""The call under way, ``None`` outside a public function."""
    return _current.get()


def setting(name: str, read: Callable[[], L]) -> L:
    r"""A setting as the call under way uses it (see :meth:`Call.setting`).

    Outside a public function it is read each time.

    Examples:
        >>> setting("answer", lambda: 42)
        42

    """
    call = _current.get()
    return read() if call is None else call.setting(name, read)


def _add_hint(error: errors.Error) -> None:
    r"""Add an error's hint to its message: audmodel 1.5's sentence comes first."""
    find, error.hint = error.hint, None
    if find is None or not error.args:
        return
    try:
        hint = find()
    except Exception:  # a hint is a courtesy; the error is what matters
        return
    error.args = (f"{error.args[0]}{hint}", *error.args[1:])


def entry(function: F) -> F:
    r"""Make ``function`` a public call: one call context, and its verbosity.

    ``verbose=True``, where the function takes it, shows the steps of the
    whole call (see :func:`audmodel._output.verbose`).

    """

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _output.verbose(bool(kwargs.get("verbose"))):
            if _current.get() is not None:  # called by another public function
                return function(*args, **kwargs)
            this: Call = Call()
            token = _current.set(this)
            try:
                return function(*args, **kwargs)
            except errors.Error as ex:
                _add_hint(ex)
                raise
            finally:
                _current.reset(token)
                this.close()

    return call  # type: ignore[return-value]
