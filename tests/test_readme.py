"""The README's commands, CI, and the documentation build."""

from __future__ import annotations

import doctest
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

from helpers import console_examples
from helpers import run_as_shown
import pytest


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


def test_readme_shell_example_runs_as_shown_on_a_fresh_account(tmp_path):
    """Nothing configured: the example names its repository itself."""
    examples = console_examples((ROOT / "README.rst").read_text())
    first = examples[: next(i for i, (c, _) in enumerate(examples) if "load" in c) + 1]
    assert [command.split()[:2] for command, _ in first] == [
        ["mkdir", "-p"],
        ["audmodel", "publish"],
        ["audmodel", "load"],
    ]
    run_as_shown(first, tmp_path)


def test_docs_build_without_warnings(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-n",  # every reference resolves, to Python and pandas too
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
    api = (tmp_path / "html" / "api.html").read_text()
    assert api.count("audmodel.publish")
    # Types and errors of other projects link to those projects' documentation.
    assert "https://pandas.pydata.org/docs/reference/api/pandas.DataFrame.html" in api
    assert "audbackend/api/audbackend.BackendError.html" in api


def test_guarantees_page_names_existing_tests():
    text = (ROOT / "docs" / "guarantees.rst").read_text()
    references = re.findall(r"``(test_\w+\.py)(?:::(test_\w+))?``", text)
    assert len(references) > 15
    for module, name in references:
        source = (ROOT / "tests" / module).read_text()
        if name:
            assert f"def {name}(" in source, f"{module}::{name}"


DOC_PAGES = sorted(
    path.name for path in (ROOT / "docs").glob("*.rst") if ">>> " in path.read_text()
)

# Runs examples one after the other in one namespace, as a reader pasting
# them would; an example that shows an error may raise, no other may.
PASTE = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
for source, raises in json.load(sys.stdin):
    try:
        exec(compile(source, "<pasted>", "single"), namespace)
    except Exception:
        if not raises:
            traceback.print_exc()
            sys.exit(1)
"""


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_examples_run_pasted_into_a_new_interpreter(page, tmp_path):
    """A page's examples, in order, need nothing the page does not set up.

    The doctest run compares their output; this runs them as a reader
    would, in a new interpreter without a configuration of the user's.
    """
    examples = doctest.DocTestParser().get_examples((ROOT / "docs" / page).read_text())
    pasted = json.dumps([[e.source, e.exc_msg is not None] for e in examples])
    environment = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    environment.pop("AUDMODEL_CACHE_ROOT", None)
    result = subprocess.run(
        [sys.executable, "-c", PASTE],
        input=pasted,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_docs_copy_button_copies_code_without_prompts_or_outputs(tmp_path):
    """The button's own function, with the settings the built pages give it."""
    node = shutil.which("node")
    if node is None:  # the s3rver tests need Node.js too
        message = "the copy button's test runs its JavaScript with Node.js"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    html = tmp_path / "html"
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(ROOT / "docs"), html],
        check=True,
    )
    button = (html / "_static" / "copybutton.js").read_text()
    call = re.search(r"return formatCopyText\(text, (.*)\)", button).group(1)
    (tmp_path / "funcs.mjs").write_text(
        (html / "_static" / "copybutton_funcs.js").read_text()
    )
    shown = (
        ">>> import audmodel\n"
        ">>> for uid in audmodel.versions('d4e9c65b'):\n"
        "...     print(uid)\n"
        "1.0.0\n"
        "$ audmodel load my-model\n"
        "/home/me/audmodel/d4e9c65b/1.0.0\n"
    )
    script = (
        "import { formatCopyText } from './funcs.mjs';\n"
        f"console.log(JSON.stringify(formatCopyText({json.dumps(shown)}, {call})));\n"
    )
    (tmp_path / "copy.mjs").write_text(script)
    result = subprocess.run(
        [node, "copy.mjs"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == (
        "import audmodel\n"
        "for uid in audmodel.versions('d4e9c65b'):\n"
        "    print(uid)\n"
        "audmodel load my-model"
    )
