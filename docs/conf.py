"""Sphinx configuration."""

import importlib.metadata
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import _inventories  # noqa: E402

project = "audmodel"
author = "The audmodel developers"
copyright = "2026, The audmodel developers"
version = release = importlib.metadata.version("audmodel")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
]
# The copy button copies what to type: the lines after a prompt (">>> ",
# "... ", "$ "), without the prompts and without the outputs shown.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
autodoc_typehints = "description"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
exclude_patterns = ["_build"]
# Links to Python, pandas, filelock and audbackend, from inventories kept in
# _inventories.py: the build needs no network.
intersphinx_mapping = _inventories.write(pathlib.Path(tempfile.mkdtemp()))
# The theme of NumPy's, pandas' and SciPy's documentation.
html_theme = "pydata_sphinx_theme"
html_title = "audmodel"
html_sidebars = {"**": []}  # the pages are flat: no section navigation
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
