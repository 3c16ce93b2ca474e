"""The core's structure, read from its source on CPython: imports point one way
(DESIGN.md section 2), plugins use only the public plugin API (section 3), and
App, Request and Response have real members (section 6)."""
import ast
import glob
import inspect
import os
import pydoc
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, 'core'))

import weblet  # noqa: E402
from weblet import App, Request, Response  # noqa: E402

CORE = os.path.join(ROOT, 'core', 'weblet')
# The layers, bottom up: a module imports only modules before it.
LAYERS = ['cpython', 'platform', 'protocol', 'escaping', 'forms', 'routing', 'urls', 'body',
          'app', 'server', 'setup', 'lifecycle', '__init__']
# The imports that point up: App's constructor and registering methods load
# setup, start and shutdown load lifecycle (which the server layer sits under);
# a serving device has unloaded both.
FORWARDS = {('app', 'setup'), ('app', 'lifecycle')}


def weblet_imports(path, package_modules):
    """``(imported module, line, inside a function)`` for each weblet module ``path`` imports.

    Module-level and function-level imports both count: ``from .x import y``,
    ``from . import x``, ``import weblet.x`` and ``from weblet import x`` where
    x is a module.
    """
    tree = ast.parse(open(path).read())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                if child.level == 1 or child.module == 'weblet':
                    if child.module in (None, 'weblet'):  # from . import x / from weblet import x
                        names = [a.name for a in child.names if a.name in package_modules]
                        found.extend((name, child.lineno, nested) for name in names)
                        if child.module == 'weblet' and not names:
                            found.append(('__init__', child.lineno, nested))
                    else:
                        found.append((child.module, child.lineno, nested))
                elif child.module and child.module.startswith('weblet.'):
                    found.append((child.module.split('.')[1], child.lineno, nested))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith('weblet.'):
                        found.append((alias.name.split('.')[1], child.lineno, nested))
                    elif alias.name == 'weblet':
                        found.append(('__init__', child.lineno, nested))
            visit(child, nested)
    visit(tree, False)
    return found


def core_modules():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CORE, '*.py')))


def core_graph():
    modules = core_modules()
    return {name: weblet_imports(os.path.join(CORE, name + '.py'), modules) for name in modules}


def test_every_core_module_has_a_layer():
    assert sorted(LAYERS) == core_modules()


def test_core_imports_have_no_cycle():
    graph = {name: {imp for imp, _, _ in found if imp != name}
             for name, found in core_graph().items()}
    visiting, done = [], set()

    def walk(name):
        if name in visiting:
            pytest.fail('import cycle: ' + ' -> '.join(visiting[visiting.index(name):] + [name]))
        if name in done:
            return
        visiting.append(name)
        for imported in sorted(graph[name]):
            walk(imported)
        visiting.pop()
        done.add(name)
    for name in sorted(graph):
        walk(name)


def test_core_imports_point_down_the_layers():
    wrong = []
    for name, found in core_graph().items():
        for imported, line, _ in found:
            if (LAYERS.index(imported) >= LAYERS.index(name)
                    and (name, imported) not in FORWARDS):
                wrong.append('%s.py:%d imports %s' % (name, line, imported))
    assert wrong == []


def test_the_server_knows_nothing_of_the_app_layer():
    imported = {imp for imp, _, _ in core_graph()['server']}
    assert imported <= {'platform', 'protocol', 'body'}


PLUGIN_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', '*', 'weblet', '*.py')))
PLUGIN_MODULES = {os.path.basename(p)[:-3] for p in PLUGIN_FILES}


@pytest.mark.parametrize('path', PLUGIN_FILES, ids=os.path.basename)
def test_plugins_import_only_the_public_api(path):
    """A plugin imports names from ``weblet`` itself, and plugin modules; no core module."""
    tree = ast.parse(open(path).read())
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            wrong.append('line %d: a relative import' % node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == 'weblet':
            for alias in node.names:
                if alias.name not in weblet.__all__ and alias.name not in PLUGIN_MODULES:
                    wrong.append('line %d: from weblet import %s' % (node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('weblet.'):
            if node.module.split('.')[1] not in PLUGIN_MODULES:
                wrong.append('line %d: from %s import ...' % (node.lineno, node.module))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith('weblet.') and (
                        alias.name.split('.')[1] not in PLUGIN_MODULES):
                    wrong.append('line %d: import %s' % (node.lineno, alias.name))
    assert wrong == []


def test_the_public_api_imports_and_the_plugin_guide_names_all_of_it():
    guide = open(os.path.join(ROOT, 'docs', 'plugins.rst')).read()
    for name in weblet.__all__:
        assert getattr(weblet, name) is not None
        assert name in guide, name


def test_app_has_its_real_signature():
    params = inspect.signature(App).parameters
    assert list(params) == ['max_body', 'max_header_bytes', 'max_headers', 'max_line',
                            'request_timeout', 'keepalive_timeout', 'max_connections', 'debug']
    assert list(App().limits) == list(params)[:-1]


@pytest.mark.parametrize('cls, methods, properties', [
    (App, ['route', 'get', 'post', 'put', 'patch', 'delete', 'mount', 'use', 'before_request',
           'after_request', 'errorhandler', 'on_startup', 'on_shutdown', 'start', 'shutdown',
           'url_for', 'handle', 'dispatch', 'run', 'serve_forever', 'add_converter'], ['limits']),
    (Request, ['body', 'text', 'json', 'form'], ['args', 'cookies', 'state', 'stream',
                                                 'media_type']),
    (Response, ['set_cookie', 'delete_cookie', 'json', 'redirect'], []),
], ids=['App', 'Request', 'Response'])
def test_members_are_defined_on_the_class(cls, methods, properties):
    assert '__getattr__' not in vars(cls)
    for name in methods:
        member = inspect.getattr_static(cls, name)
        assert callable(member) or isinstance(member, (staticmethod, classmethod)), name
        assert inspect.getdoc(getattr(cls, name)), name
    for name in properties:
        assert isinstance(inspect.getattr_static(cls, name), property), name
        assert inspect.getdoc(inspect.getattr_static(cls, name)), name


def test_help_shows_the_docstrings_and_signatures():
    text = pydoc.render_doc(App.route, renderer=pydoc.plaintext)
    assert 'route(self, path, methods=None, name=None)' in text
    assert "'/led/<int:pin>'" in text
    assert 'set_cookie(self, name, value, max_age=None' in pydoc.render_doc(
        Response, renderer=pydoc.plaintext)


def test_a_subclass_reaches_the_members_through_super():
    class Logged(App):
        def route(self, path, methods=None, name=None):
            self.seen = path
            return super().route(path, methods, name)

    app = Logged()
    app.get('/x')(lambda req: 'x')
    assert app.seen == '/x' and app.url_for('<lambda>') == '/x'


def test_docs_conf_does_not_patch_the_classes():
    conf = open(os.path.join(ROOT, 'docs', 'conf.py')).read()
    assert 'setattr(' not in conf and 'weblet.App.' not in conf
