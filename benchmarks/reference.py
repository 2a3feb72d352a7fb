"""audmodel 1.5.3 in a virtual environment of its own, for comparisons."""

from __future__ import annotations

import os
import subprocess
import sys


VERSION = "1.5.3"


def reference_python(venv: str) -> str:
    """The Python of ``venv``, with audmodel 1.5.3 installed there if missing."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", f"audmodel=={VERSION}"], check=True
        )
    return python
