"""Model cards: the README a model's archive holds, shown on its catalog page.

A README is text its publisher wrote, shown to whoever opens the page, so
it is treated as hostile: Markdown is rendered by markdown-it-py (CommonMark,
with tables) and the HTML that comes out is cleaned by nh3 (the Rust
sanitizer ammonia) down to an allow-list of tags and attributes. Nothing of
it can run: no scripts, no event handlers, no links but ``http``,
``https`` and ``mailto``, no styles, and no images (a page that loads images
from elsewhere tells their host who reads it; an image becomes its
alternative text). ``README.rst`` and ``README.txt`` are shown as text.

Only the README's entry of the archive is read, by ranged reads, and only
when it is at most :data:`RENDER_LIMIT` bytes; a larger one is linked.
What rendering costs is bounded too (:func:`too_complex`): a README with
more table cells or deeper nesting than a model card needs is shown as
text, not rendered.
"""

from __future__ import annotations

import dataclasses
import html
import re
from typing import Any
import zipfile

from audmodel._lazy import markdown_it
from audmodel._lazy import nh3


# In the order they are looked for, at the top of the model folder.
README_NAMES = ("README.md", "README.rst", "README.txt")
RENDER_LIMIT = 1024 * 1024  # bytes; a larger README is linked, not shown
RAW_LIMIT = 16 * 1024 * 1024  # bytes; the most the link sends
_LINK_SCHEMES = {"http", "https", "mailto"}
# nh3's allow-list of tags keeps images and image maps; a README's do not.
_IMAGE_TAGS = {"img", "map", "area"}


@dataclasses.dataclass
class Card:
    r"""A model's README, as shown on its page.

    Exactly one of ``html`` (Markdown, rendered and cleaned) and ``text``
    (any other README) is set, or neither when the README is larger than
    :data:`RENDER_LIMIT` and only linked.

    """

    file: str
    size: int
    html: str | None = None
    text: str | None = None

    @property
    def linked(self) -> bool:
        r"""Whether the README is too large to show and only linked."""
        return self.html is None and self.text is None


def find_readme(entries: list[zipfile.ZipInfo]) -> zipfile.ZipInfo | None:
    r"""The README among the entries of an archive, or ``None``.

    Looked for at the top of the model folder, by the names in
    :data:`README_NAMES` without regard to case, in their order.

    Args:
        entries: the archive's entries

    Returns:
        the README's entry, if there is one

    Example:
        >>> entry = zipfile.ZipInfo("readme.MD")
        >>> find_readme([zipfile.ZipInfo("docs/README.md"), entry]) is entry
        True

    """
    by_name = {e.filename.lower(): e for e in entries if not e.is_dir()}
    for name in README_NAMES:
        if name.lower() in by_name:
            return by_name[name.lower()]
    return None


def card(entry: zipfile.ZipInfo, read: Any) -> Card:
    r"""The card of a README entry.

    Args:
        entry: the README's entry
        read: callable without arguments that gives the entry's bytes;
            not called when the README is too large to show

    Returns:
        the card

    Example:
        >>> entry = zipfile.ZipInfo("README.md")
        >>> entry.file_size = 9
        >>> card(entry, lambda: b"# Hello\n").html
        '<h1>Hello</h1>\n'

    """
    shown = Card(entry.filename, entry.file_size)
    if entry.file_size > RENDER_LIMIT:
        return shown
    text = read().decode("utf-8", errors="replace")
    if entry.filename.lower().endswith(".md") and too_complex(text) is None:
        shown.html = render_markdown(text)
    else:
        shown.text = text
    return shown


TABLE_CELLS = 20_000
r"""Most table cells a README may make to be rendered (else shown as text)."""
NESTING = 100
r"""Deepest nesting of HTML tags and quotes a README may have to be rendered."""
_DELIMITER_ROW = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area"}


def too_complex(text: str) -> str | None:
    r"""Why a README would cost too much to render, or ``None``.

    Rendering Markdown and cleaning its HTML takes time and memory that
    grow faster than the text with the cells of its tables (a table's
    rows are padded to its header's width) and with the nesting of its
    HTML and quotes. Both are counted on the text before anything is
    rendered, generously (a cell or level too many is fine), and a README
    over :data:`TABLE_CELLS` or :data:`NESTING` is shown as text.

    Example:
        >>> too_complex("| a | b |\n|---|---|\n| 1 | 2 |") is None
        True
        >>> too_complex("<div>" * 500)
        'HTML nested 500 deep, more than 100'

    """
    lines = text.splitlines()
    cells = 0
    for index, line in enumerate(lines):
        if "-" in line and "|" in line and _DELIMITER_ROW.match(line):
            columns = line.strip().strip("|").count("|") + 1
            rows = 1
            for row in lines[index + 1 :]:
                if not row.strip():
                    break
                rows += 1
            cells += columns * (rows + 1)
            if cells > TABLE_CELLS:
                return f"tables of {cells} cells, more than {TABLE_CELLS}"
    depth = deepest = 0
    for match in _TAG.finditer(text):
        closing, name, selfclosing = match.groups()
        if closing:
            depth = max(0, depth - 1)
        elif not selfclosing and name.lower() not in _VOID_TAGS:
            depth += 1
            deepest = max(deepest, depth)
    quotes = max((_quote_depth(line) for line in lines), default=0)
    deepest = max(deepest, quotes)
    if deepest > NESTING:
        return f"HTML nested {deepest} deep, more than {NESTING}"
    return None


def _quote_depth(line: str) -> int:
    r"""How many quote markers (``>``) a line begins with."""
    return line[: len(line) - len(line.lstrip("> \t"))].count(">")


def render_markdown(text: str) -> str:
    r"""Markdown as HTML that cannot run anything.

    Args:
        text: the Markdown

    Returns:
        cleaned HTML

    Example:
        >>> render_markdown("[x](javascript:alert(1)) <b onclick='f()'>b</b>")
        '<p>[x](javascript:alert(1)) <b>b</b></p>\n'

    """
    # Raw HTML is let through to the sanitizer, which decides what of it
    # stays, so that a README's harmless markup (<b>, <details>) still shows.
    markdown = markdown_it.MarkdownIt("commonmark", {"html": True}).enable(
        ["table", "strikethrough"]
    )
    markdown.add_render_rule("image", _image_as_text)
    return sanitize(markdown.render(text))


def sanitize(fragment: str) -> str:
    r"""An HTML fragment cut down to tags, attributes and links that cannot run.

    Args:
        fragment: HTML

    Returns:
        the fragment without scripts, styles, event handlers, images and
        links other than ``http``, ``https`` and ``mailto``

    Example:
        >>> sanitize('<a href="javascript:f()">x</a><script>f()</script>')
        '<a rel="noopener noreferrer nofollow">x</a>'

    """
    return nh3.clean(
        fragment,
        tags=set(nh3.ALLOWED_TAGS) - _IMAGE_TAGS,
        attributes={
            tag: set(names)
            for tag, names in nh3.ALLOWED_ATTRIBUTES.items()
            if tag not in _IMAGE_TAGS
        },
        url_schemes=_LINK_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


def _image_as_text(
    renderer: Any, tokens: list, index: int, options: Any, env: Any
) -> str:
    r"""An image of the README shown as its alternative text."""
    alt = renderer.renderInlineAsText(tokens[index].children or [], options, env)
    return f'<em class="image">[image: {html.escape(alt)}]</em>' if alt else ""
