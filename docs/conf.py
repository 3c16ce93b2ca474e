"""Sphinx configuration for the weblet documentation (built-in extensions only, no network)."""
import os
import sys

# `import weblet` on CPython: the core package lives in ../core/weblet.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', 'core')))

# Each plugin installs into the same `weblet` package from its own folder
# (plugins/<name>/weblet/); join those folders to the package so autodoc can
# import `weblet.static`, `weblet.auth`, ... as a device would.
import glob  # noqa: E402
import weblet  # noqa: E402

weblet.__path__ += sorted(glob.glob(os.path.abspath(os.path.join(
    os.path.dirname(__file__), '..', 'plugins', '*', 'weblet'))))

project = 'weblet'
author = 'weblet contributors'
copyright = 'weblet contributors'
version = '0.1.0'
release = version

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.viewcode',
]

autodoc_member_order = 'bysource'
autoclass_content = 'class'

exclude_patterns = ['_build', 'build', 'Thumbs.db', '.DS_Store']
templates_path = []

html_theme = 'alabaster'
html_title = 'weblet %s' % version
html_theme_options = {
    'description': 'A tiny plugin-based HTTP/1.1 web stack for MicroPython and CPython',
}
