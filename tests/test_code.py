"""The package's code: type-checked and lint-clean, as CI requires."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

import audmodel


ROOT = pathlib.Path(__file__).parents[1]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True
    )


def test_package_type_checks():
    pytest.importorskip("mypy", reason="needs the extra 'test'")
    result = run("mypy")  # files and settings from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_code_is_lint_clean():
    pytest.importorskip("ruff", reason="needs the extra 'test'")
    result = run("ruff", "check", "audmodel", "tests", "benchmarks", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def _text_blocks(page: pathlib.Path, section: str) -> list[list[str]]:
    r"""The lines of each ``code-block:: text`` of a section of a page."""
    text = page.read_text().split(f"\n{section}\n", 1)[1]
    text = re.split(r"\n\S[^\n]*\n-{3,}\n", text, maxsplit=1)[0]
    blocks = []
    for block in text.split(".. code-block:: text\n")[1:]:
        lines = []
        for line in block.splitlines()[1:]:
            if line and not line.startswith(" "):
                break
            if line.strip():
                lines.append(line)
        blocks.append(lines)
    return blocks


def _page() -> tuple[dict[str, int], dict[str, set[str]]]:
    r"""Layer of each room and the imports allowed within a layer, from the page.

    A layer's line starts with its name; a line further indented goes on
    with the rooms of the layer above it. ``backend/ (_s3, ...)`` and
    ``_archive/`` are packages, one room each.

    """
    layers, within = _text_blocks(ROOT / "docs" / "architecture.rst", "Layers")
    names: list[list[str]] = []
    for line in layers:
        words = re.findall(r"\w+", line.split("(")[0])
        if line[4:5].isspace():
            names[-1] += words
        else:
            names.append(words[1:])
    level = {room: n for n, rooms in enumerate(reversed(names)) for room in rooms}
    allowed = {}
    for line in within:
        room, *imported = line.split()
        allowed[room] = set(imported)
    return level, allowed


def _code_imports() -> dict[str, set[str]]:
    imports: dict[str, set[str]] = {}
    for path in sorted((ROOT / "audmodel").rglob("*.py")):
        room = _room(path)
        imports.setdefault(room, set()).update(_imported_rooms(path) - {room})
    return imports


def _room(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT / "audmodel").with_suffix("").parts
    return parts[0]


def _imported_rooms(path: pathlib.Path) -> set[str]:
    import ast

    rooms = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]  # _lazy.module("audmodel._x")
        for name in names:
            parts = name.split(".")
            if parts[0] == "audmodel" and len(parts) > 1:
                rooms.add(parts[1])
    return rooms


def test_layers_import_only_downwards():
    layer, _ = _page()
    upward = []
    for room, imported in _code_imports().items():
        assert room in layer, f"{room} is in no layer of docs/architecture.rst"
        upward += [f"{room} imports {i}" for i in imported if layer[i] > layer[room]]
    assert upward == []


def test_imports_within_a_layer_are_those_the_page_lists():
    layer, allowed = _page()
    imports = _code_imports()
    unlisted = [
        f"{room} imports {i}"
        for room, imported in imports.items()
        for i in imported
        if layer[i] == layer[room] and i not in allowed.get(room, set())
    ]
    assert unlisted == []
    unused = [
        f"{room} {i}"
        for room, imported in allowed.items()
        for i in imported
        if i not in imports.get(room, set())
    ]
    assert unused == []  # the page stays true both ways


def test_the_listed_imports_have_no_cycle():
    _, allowed = _page()
    state: dict[str, str] = {}

    def visit(room: str, path: list[str]) -> None:
        if state.get(room) == "open":
            raise AssertionError("import cycle: " + " -> ".join([*path, room]))
        if state.get(room) != "done":
            state[room] = "open"
            for imported in sorted(allowed.get(room, ())):
                visit(imported, [*path, room])
            state[room] = "done"

    for room in sorted(allowed):
        visit(room, [])


def test_the_architecture_test_reads_the_page():
    layer, allowed = _page()
    assert layer["_layout"] < layer["backend"] < layer["_ids"] < layer["_store"]
    assert layer["_store"] < layer["_aliases"] < layer["_load"] < layer["_api"]
    assert layer["_archive"] == layer["_ids"] and layer["_call"] == layer["_store"]
    assert layer["_config"] == layer["_store"] and layer["_files"] == 0
    assert allowed["_store"] == {"_cache", "_call", "_config", "_repository"}


def test_imports_are_deferred_one_way_only():
    """No function imports anything itself: deferred imports go through _lazy."""
    package = pathlib.Path(audmodel.__file__).parent
    inside = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    inside.append(f"{path.relative_to(package)}:{node.lineno}")
    assert inside == []


def test_verbosity_is_the_calls_not_a_parameter_passed_down():
    # One output room: a public function's 'verbose' switches on the steps
    # of its whole call; rooms below ask the output room, and take no flag.
    # Backends take 'verbose' where audbackend's interface hands it to them.
    taking = []
    for path in sorted((ROOT / "audmodel").glob("_*.py")):
        if path.stem in ("_api", "_cli", "_output"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = node.args.args + node.args.kwonlyargs
                if any(a.arg == "verbose" for a in arguments):
                    taking.append(f"{path.name}:{node.lineno} {node.name}")
    assert not taking
