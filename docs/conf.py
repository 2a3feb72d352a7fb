"""Sphinx configuration."""

import importlib.metadata

project = "audmodel"
author = "The audmodel developers"
copyright = "2026, The audmodel developers"
version = release = importlib.metadata.version("audmodel")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
autodoc_typehints = "description"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "audmodel"
