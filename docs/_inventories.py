"""Intersphinx inventories of the objects these docs link to, kept here.

The docs build without a network (in the test suite, on a cluster node), so
the inventories of Python, pandas, filelock and audbackend are not fetched:
this file lists the objects the pages refer to, with their address in each
project's published documentation, and :func:`write` turns the lists into
inventory files that ``intersphinx_mapping`` reads. The links in the built
pages go to the real documentation.

A reference to an object missing here fails the build (``-n -W``); add the
object to its project's list.
"""

from __future__ import annotations

import pathlib
import zlib


# project: (documentation root, {object: (role, page relative to the root)})
PROJECTS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "python": (
        "https://docs.python.org/3/",
        {
            "bool": ("py:class", "library/functions.html"),
            "collections.abc.Callable": (
                "py:class",
                "library/collections.abc.html",
            ),
            "collections.abc.Sequence": (
                "py:class",
                "library/collections.abc.html",
            ),
            "bytes": ("py:class", "library/stdtypes.html"),
            "dict": ("py:class", "library/stdtypes.html"),
            "float": ("py:class", "library/functions.html"),
            "int": ("py:class", "library/functions.html"),
            "list": ("py:class", "library/stdtypes.html"),
            "str": ("py:class", "library/stdtypes.html"),
            "tuple": ("py:class", "library/stdtypes.html"),
            "datetime.date": ("py:class", "library/datetime.html"),
            "datetime.timedelta": ("py:class", "library/datetime.html"),
            "zlib.crc32": ("py:function", "library/zlib.html"),
            "zipfile.ZipInfo.CRC": ("py:attribute", "library/zipfile.html"),
            "FileNotFoundError": ("py:exception", "library/exceptions.html"),
            "KeyError": ("py:exception", "library/exceptions.html"),
            "PermissionError": ("py:exception", "library/exceptions.html"),
            "RuntimeError": ("py:exception", "library/exceptions.html"),
            "TypeError": ("py:exception", "library/exceptions.html"),
            "ValueError": ("py:exception", "library/exceptions.html"),
        },
    ),
    "pandas": (
        "https://pandas.pydata.org/docs/",
        {"pandas.DataFrame": ("py:class", "reference/api/pandas.DataFrame.html")},
    ),
    "filelock": (
        "https://py-filelock.readthedocs.io/en/latest/",
        {"filelock.Timeout": ("py:exception", "api.html")},
    ),
    "audbackend": (
        "https://audeering.github.io/audbackend/",
        {
            "audbackend.BackendError": ("py:exception", "api/{}.html"),
            "audbackend.backend.Base": ("py:class", "api/{}.html"),
            "audbackend.backend.Minio": ("py:class", "api/{}.html"),
            "audbackend.interface.Maven": ("py:class", "api/{}.html"),
            # The names type hints resolve to: the classes' defining modules.
            "audbackend.core.backend.base.Base": (
                "py:class",
                "api/audbackend.backend.Base.html#audbackend.backend.Base",
            ),
            "audbackend.core.interface.maven.Maven": (
                "py:class",
                "api/audbackend.interface.Maven.html#audbackend.interface.Maven",
            ),
        },
    ),
}


def _line(name: str, role: str, page: str) -> str:
    page = page.format(name)
    uri = page if "#" in page else f"{page}#$"  # "$": the name is the anchor
    return f"{name} {role} 1 {uri} -\n"


def write(folder: pathlib.Path) -> dict[str, tuple[str, str]]:
    """Write one inventory file per project into ``folder``.

    Args:
        folder: where the files go (created if missing)

    Returns:
        the ``intersphinx_mapping`` that uses them

    Example:
        >>> import tempfile
        >>> mapping = write(pathlib.Path(tempfile.mkdtemp()))
        >>> mapping["python"][0]
        'https://docs.python.org/3/'
    """
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (root, objects) in PROJECTS.items():
        header = (
            "# Sphinx inventory version 2\n"
            f"# Project: {project}\n"
            "# Version: \n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        body = "".join(_line(name, *entry) for name, entry in objects.items())
        path = folder / f"{project}.inv"
        path.write_bytes(header.encode() + zlib.compress(body.encode()))
        mapping[project] = (root, str(path))
    return mapping
