"""A model's header as a record: read once, checked once, then passed on typed.

The header is stored as YAML in audmodel 1.5's layout (``author``, ``date``,
``name``, ``parameters``, ``subgroup``, ``version``). Read from a repository
or a cache, it is input: its name and subgroup become folders of the
archive's path, so they are checked (:func:`audmodel._ids.header_problem`)
before the record exists. :func:`audmodel.header` returns the mapping as
stored (:meth:`Header.as_dict`), as audmodel 1.5 does.

"""

from __future__ import annotations

from collections.abc import Mapping
import copy
import dataclasses
import types

from audmodel import _ids
from audmodel import _layout
from audmodel import _yaml
from audmodel import errors


@dataclasses.dataclass(frozen=True)
class Header:
    r"""A model's header.

    Examples:
        >>> model = _ids.ModelId("8d99e4cf", "1.0.0")
        >>> header = Header.of({"name": "torch", "subgroup": "a.b"}, model, "")
        >>> header.name, header.archive_path
        ('torch', '/a/b/torch/8d99e4cf.zip')

    """

    model: _ids.ModelId
    name: str
    subgroup: str  # '' for none
    stored: Mapping[str, object]  # the mapping as stored, read-only

    @classmethod
    def of(cls, data: object, model: _ids.ModelId, what: str) -> Header:
        r"""The record of a header's parsed content.

        Args:
            data: the parsed YAML
            model: the model it belongs to
            what: names the header in the error, e.g. ``"cached header '...'"``

        Raises:
            audmodel.errors.RefusedError: if it is not a mapping with a
                name and subgroup that :func:`audmodel.publish` would take

        """
        problem = _ids.header_problem(data)
        if not isinstance(data, dict) or problem is not None:
            raise errors.RefusedError(f"Refusing the {what}: {problem}.")
        stored = types.MappingProxyType(copy.deepcopy(data))
        return cls(model, data["name"], data.get("subgroup") or "", stored)

    @classmethod
    def parse(cls, text: bytes, model: _ids.ModelId, where: str) -> Header:
        r"""The record of a stored header's YAML text; see :meth:`of`.

        Args:
            text: the header file's bytes
            model: the model it belongs to
            where: the stored file, e.g. ``"'/_uid/...' in Repository(...)"``

        Raises:
            audmodel.errors.RefusedError: if the text is not safe YAML,
                or the header is refused

        """
        return cls.of(_yaml.loads(text, where), model, f"header {where}")

    @property
    def archive_path(self) -> str:
        r"""Where the model's archive is stored, unversioned."""
        return _layout.archive_path(self.model.short_id, self.name, self.subgroup)

    def as_dict(self) -> dict[str, object]:
        r"""The header as stored, a copy the caller may change."""
        return copy.deepcopy(dict(self.stored))
