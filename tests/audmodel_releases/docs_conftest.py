"""Runs audmodel 1.5.3's documentation pages as its own CI does, against us.

The fixtures do what those of its ``docs/conftest.py`` do, without reaching
into ``audmodel.core``: the default configuration is read from our package.
"""

from doctest import ELLIPSIS
from doctest import NORMALIZE_WHITESPACE
import os

import pytest
import sybil
from sybil.parsers.rest import CaptureParser
from sybil.parsers.rest import DocTestParser
from sybil.parsers.rest import PythonCodeBlockParser
from sybil.parsers.rest import SkipParser
import yaml

import audmodel


def imports(namespace):
    namespace["audmodel"] = audmodel


@pytest.fixture(scope="module")
def run_in_tmpdir(tmpdir_factory):
    folder = tmpdir_factory.mktemp("tmp")
    current = os.getcwd()
    os.chdir(folder)
    yield
    os.chdir(current)


@pytest.fixture(scope="module")
def reset_config():
    cache_root = audmodel.config.CACHE_ROOT
    repositories = list(audmodel.config.REPOSITORIES)
    environment = os.environ.pop("AUDMODEL_CACHE_ROOT", None)
    yield
    audmodel.config.CACHE_ROOT = cache_root
    audmodel.config.REPOSITORIES = repositories
    if environment is not None:
        os.environ["AUDMODEL_CACHE_ROOT"] = environment


@pytest.fixture(scope="module")
def default_configuration():
    cache_root = audmodel.config.CACHE_ROOT
    repositories = audmodel.config.REPOSITORIES
    shipped = os.path.join(os.path.dirname(audmodel.__file__), "etc", "audmodel.yaml")
    with open(shipped) as fp:
        default = yaml.safe_load(fp)
    audmodel.config.CACHE_ROOT = default["cache_root"]
    audmodel.config.REPOSITORIES = [
        audmodel.Repository(entry["name"], entry["host"], entry["backend"])
        for entry in default["repositories"]
    ]
    yield
    audmodel.config.CACHE_ROOT = cache_root
    audmodel.config.REPOSITORIES = repositories


parsers = [
    CaptureParser(),
    DocTestParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
    PythonCodeBlockParser(),
    SkipParser(),
]
pytest_collect_file = sybil.sybil.SybilCollection(
    (
        sybil.Sybil(
            parsers=parsers,
            filenames=["usage.rst"],
            fixtures=["run_in_tmpdir", "reset_config"],
        ),
        sybil.Sybil(
            parsers=parsers,
            filenames=["configuration.rst"],
            fixtures=["default_configuration"],
            setup=imports,
        ),
    )
).pytest()
