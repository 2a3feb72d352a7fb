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
# The theme of NumPy's, pandas' and SciPy's documentation.
html_theme = "pydata_sphinx_theme"
html_title = "audmodel"
html_sidebars = {"**": []}  # the pages are flat: no section navigation
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
