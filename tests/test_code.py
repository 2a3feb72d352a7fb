"""The package's code: type-checked and lint-clean, as CI requires."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest


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


# The layers of docs/architecture.rst, from the bottom up: a module imports
# from its own layer and those below, never from one above.
LAYERS = [
    ["_layout", "_lazy", "_output", "_threads", "_defaults", "_files"],
    ["backend"],
    ["_ids", "_yaml", "_json", "_archive"],
    ["_store", "_shared", "_cache", "_journal", "_locks", "_repository", "_config"],
    ["_aliases", "_resolve", "_transaction"],
    ["_publish", "_load", "_lifecycle", "_check", "_catalog", "_tables"],
    [
        *["__init__", "_api", "_cli", "__main__"],
        *["_ui", "_ui_safety", "_ui_card", "_ui_compare"],
    ],
]


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
    layer = {room: level for level, rooms in enumerate(LAYERS) for room in rooms}
    upward = []
    for path in sorted((ROOT / "audmodel").rglob("*.py")):
        room = _room(path)
        assert room in layer, f"{room} is in no layer of docs/architecture.rst"
        for imported in _imported_rooms(path) - {room}:
            if layer[imported] > layer[room]:
                upward.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert upward == []
