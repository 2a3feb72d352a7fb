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
