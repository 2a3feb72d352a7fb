"""What the transfer backends share."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
import contextlib
import os

import audbackend
import audeer


class ChecksumError(RuntimeError):
    r"""A downloaded file does not match the checksum the backend stored."""


@contextlib.contextmanager
def progress(total: int, description: str, verbose: bool) -> Iterator[Callable]:
    r"""A progress bar over bytes, shown if ``verbose``; yields its update."""
    bar = audeer.progress_bar(
        total=total,
        desc=audeer.format_display_message(description, pbar=True),
        disable=not verbose,
    )
    try:
        yield bar.update
    finally:
        bar.close()


def check_download(path: str, expected: str | None, source: str) -> None:
    r"""Compare a downloaded file's MD5 with the stored one.

    Raises:
        ChecksumError: if they differ; the file is removed

    """
    if expected and audeer.md5(path) != expected:
        os.remove(path)
        raise ChecksumError(
            f"The download of {source} does not match its stored MD5 {expected}."
        )


class OpenOnce:
    r"""Mixin: open a remote backend with one try and a telling error.

    audbackend retries every call three times; for ``open()`` that would
    triple the wait for an unreachable host, whose client already retries.

    """

    def open(self) -> None:
        r"""Check that the repository can be reached.

        Raises:
            BackendError: with a message that names host and repository,
                if the host cannot be reached or the repository is missing

        """
        if self.opened:
            return
        try:
            self._open()
        except Exception as ex:
            error = audbackend.BackendError(ex)
            error.args = (str(ex),)  # audbackend's own text says only 'see trace'
            raise error from ex
        self.opened = True
