"""The README's commands, CI, and the documentation build."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys


ROOT = pathlib.Path(__file__).parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.rst").read_text()
    return re.findall(r"\.\. code-block:: bash\n\n    (.+)\n", text)


def test_readme_starts_with_the_two_commands():
    commands = readme_commands()
    assert commands[0].endswith("examples/quickstart.py")
    assert commands[1].endswith("-m pytest")
    text = (ROOT / "README.rst").read_text()
    assert text.index(commands[1]) < text.index("What it is")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_quickstart_publishes_and_loads(tmp_path):
    script = ROOT / "examples" / "quickstart.py"
    for run in range(2):  # a second run finds the model published before
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "UID: " in result.stdout
        assert "loaded folder: " + str(tmp_path / "quickstart" / "cache") in (
            result.stdout
        )
        assert "model.yaml" in result.stdout, run


def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(ROOT / "docs"),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "html" / "api.html").read_text().count("audmodel.publish")


def test_guarantees_page_names_existing_tests():
    text = (ROOT / "docs" / "guarantees.rst").read_text()
    references = re.findall(r"``(test_\w+\.py)(?:::(test_\w+))?``", text)
    assert len(references) > 15
    for module, name in references:
        source = (ROOT / "tests" / module).read_text()
        if name:
            assert f"def {name}(" in source, f"{module}::{name}"
