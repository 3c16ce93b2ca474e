"""Unit tests of weblet.routing and of compiling patterns (weblet.setup): route patterns,
converters (custom ones too), the Allow header, and a Router's matching and
mounts. Building paths back (url_for) is test_urls.py's.

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

from weblet.routing import (  # noqa: E402
    CONVERTERS, FOUND, MOUNTED, NOT_ALLOWED, NOT_FOUND, Router, add_converter, allowed)
from weblet.setup import add_route, compile_route  # noqa: E402
from weblet.urls import build_path  # noqa: E402


def parts(path):
    return path.split('/')


def tokens(header):
    """The comma-separated tokens of a header value, sorted (dicts may not keep order)."""
    return sorted(token.strip() for token in header.split(','))


def handler(req):
    pass


def other(req):
    pass


# -- Route: compiling -------------------------------------------------------------

def test_route_static():
    route = compile_route('/about/team')
    assert route.pattern == '/about/team'
    assert route.segments is None and not route.greedy
    assert route.handlers == {}
    assert build_path(route, {}) == '/about/team'


def test_route_compiles_segments():
    route = compile_route('/led/<int:pin>/<name>')
    assert route.segments == ['', 'led', ('', 'int', 'pin', ''), ('', 'str', 'name', '')]
    assert not route.greedy
    assert compile_route('/f/report-<int:y>.pdf').segments == [
        '', 'f', ('report-', 'int', 'y', '.pdf')]
    assert compile_route('/s/<path:p>').greedy
    assert compile_route('/s/<path:p>').segments == ['', 's', ('', 'path', 'p', '')]


@pytest.mark.parametrize('pattern', [
    '/a/<name',             # unclosed
    '/a/<int:name/b',
    '/a/<float:x>',         # unknown converters
    '/a/<nope:x>',
    '/a/<path:p>/b',        # <path:...> not at the end
    '/a/<path:p>.txt',
    '/<path:p>/<int:i>',
    '/<>',                  # no name
    '/<int:>',
    '/a/<path:>',
    '/<a>-<b>',             # two parameters in one segment
    '/<a>/<a>',             # a repeated name
    '/<int:a>/x/<a>',
])
def test_route_bad_pattern_is_value_error(pattern):
    with pytest.raises(ValueError) as info:
        compile_route(pattern)
    assert repr(pattern) in str(info.value)


# -- Route: matching --------------------------------------------------------------

@pytest.mark.parametrize('pattern, path, params', [
    ('/led/<int:pin>', '/led/5', {'pin': 5}),
    ('/led/<int:pin>', '/led/007', {'pin': 7}),
    ('/led/<int:pin>', '/led/x', None),
    ('/led/<int:pin>', '/led/-1', None),
    ('/led/<int:pin>', '/led/+1', None),
    ('/led/<int:pin>', '/led/1.5', None),
    ('/led/<int:pin>', '/led/ 1', None),
    ('/led/<int:pin>', '/led/', None),
    ('/led/<int:pin>', '/led', None),
    ('/led/<int:pin>', '/led/5/', None),
    ('/led/<int:pin>', '/led/5/x', None),
    ('/led/<int:pin>', '/lamp/5', None),
    ('/led/<int:pin>', '/led/\u00b2', None),     # isdigit() but not int()-able
    ('/u/<name>', '/u/ann', {'name': 'ann'}),
    ('/u/<str:name>', '/u/caf\u00e9 au lait', {'name': 'caf\u00e9 au lait'}),
    ('/u/<name>', '/u/', None),
    ('/u/<name>/edit', '/u/ann/edit', {'name': 'ann'}),
    ('/u/<name>/edit', '/u/ann/view', None),
    ('/<a>/<b>', '/x/y', {'a': 'x', 'b': 'y'}),
    ('/f/report-<int:y>.pdf', '/f/report-2024.pdf', {'y': 2024}),
    ('/f/report-<int:y>.pdf', '/f/report-.pdf', None),
    ('/f/report-<int:y>.pdf', '/f/report-2024.txt', None),
    ('/f/report-<int:y>.pdf', '/f/memo-2024.pdf', None),
    ('/f/<n>.txt', '/f/.txt', None),
    ('/f/<n>.txt', '/f/a.txt', {'n': 'a'}),
    ('/<name>.json', '/data.json', {'name': 'data'}),
    ('/s/<path:p>', '/s/a', {'p': 'a'}),
    ('/s/<path:p>', '/s/a/b/c.css', {'p': 'a/b/c.css'}),
    ('/s/<path:p>', '/s/a/', {'p': 'a/'}),
    ('/s/<path:p>', '/s/', None),
    ('/s/<path:p>', '/s', None),
    ('/s/<path:p>', '/t/a/b', None),
    ('/s/pre-<path:p>', '/s/pre-x/y', {'p': 'x/y'}),
    ('/s/pre-<path:p>', '/s/x/y', None),
    ('/<path:p>', '/', None),
    ('/<path:p>', '/a/b', {'p': 'a/b'}),
])
def test_route_match(pattern, path, params):
    assert compile_route(pattern).match(parts(path)) == params


def test_add_converter_custom():
    add_converter('hexunit', lambda s: int(s, 16), lambda v: '%x' % v)
    try:
        assert CONVERTERS['hexunit'][0]('ff') == 255
        route = compile_route('/c/<hexunit:color>')
        assert route.match(parts('/c/ff')) == {'color': 255}
        assert route.match(parts('/c/zz')) is None  # ValueError from parse: no match
        assert build_path(route, {'color': 255}) == '/c/ff'
    finally:
        CONVERTERS.pop('hexunit', None)
    with pytest.raises(ValueError):
        compile_route('/c/<hexunit:color>')  # gone again


def test_add_converter_default_to_url_is_str():
    add_converter('upper_unit', lambda s: s.upper())
    try:
        route = compile_route('/w/<upper_unit:word>')
        assert route.match(parts('/w/abc')) == {'word': 'ABC'}
        assert build_path(route, {'word': 'XY'}) == '/w/XY'
    finally:
        CONVERTERS.pop('upper_unit', None)


@pytest.mark.parametrize('args, named', [
    (('nope_unit', 'not callable'), 'nope_unit'),
    (('nope_unit', int, 5), 'nope_unit'),
    (('', int), 'name'),
    ((None, int), 'name'),
])
def test_add_converter_rejects_bad_arguments(args, named):
    with pytest.raises(ValueError) as info:
        add_converter(*args)
    assert named in str(info.value)
    assert 'nope_unit' not in CONVERTERS and '' not in CONVERTERS


# -- allowed ------------------------------------------------------------------------

@pytest.mark.parametrize('methods, expected', [
    (['GET'], ['GET', 'HEAD', 'OPTIONS']),
    (['POST'], ['OPTIONS', 'POST']),
    (['GET', 'POST'], ['GET', 'HEAD', 'OPTIONS', 'POST']),
    (['GET', 'HEAD'], ['GET', 'HEAD', 'OPTIONS']),
    (['HEAD'], ['HEAD', 'OPTIONS']),
    (['OPTIONS'], ['OPTIONS']),
    (['OPTIONS', 'GET'], ['GET', 'HEAD', 'OPTIONS']),
    ([], ['OPTIONS']),
])
def test_allowed(methods, expected):
    value = allowed(dict((method, handler) for method in methods))
    assert tokens(value) == expected
    assert len(value.split(', ')) == len(expected)  # each once, ', '-separated


# -- Router: registering and matching -------------------------------------------------

def make_router():
    router = Router()
    add_route(router, '/').handlers['GET'] = handler
    add_route(router, '/led/<int:pin>').handlers['PUT'] = handler
    add_route(router, '/led/<int:pin>').handlers['GET'] = other
    add_route(router, '/u/me').handlers['GET'] = other
    add_route(router, '/u/<name>').handlers['GET'] = handler
    add_route(router, '/u/<int:id>').handlers['POST'] = handler   # never reached: <name> first
    add_route(router, '/form').handlers['POST'] = handler
    return router


def test_router_route_compiles_a_pattern_once():
    router = Router()
    static = add_route(router, '/a')
    dynamic = add_route(router, '/b/<x>')
    assert add_route(router, '/a') is static and add_route(router, '/b/<x>') is dynamic
    assert router.static == {'/a': static}
    assert router.dynamic == [dynamic]
    assert router.names == {} and router.mounts == []


def test_router_route_bad_pattern_is_value_error():
    with pytest.raises(ValueError):
        add_route(Router(), '/x/<bogus:y>')


@pytest.mark.parametrize('method, path, expected', [
    ('GET', '/', (FOUND, handler, {})),
    ('HEAD', '/', (FOUND, handler, {})),              # HEAD falls back to GET
    ('GET', '/led/3', (FOUND, other, {'pin': 3})),
    ('PUT', '/led/3', (FOUND, handler, {'pin': 3})),
    ('GET', '/u/me', (FOUND, other, {})),             # a static route comes first
    ('GET', '/u/ann', (FOUND, handler, {'name': 'ann'})),
    ('GET', '/nope', (NOT_FOUND, None, None)),
    ('GET', '/led/x', (NOT_FOUND, None, None)),
    ('get', '/', (NOT_ALLOWED, None, 'GET, HEAD, OPTIONS')),  # methods are case-sensitive
])
def test_router_match(method, path, expected):
    kind, target, detail = make_router().match(method, path)
    assert (kind, target) == expected[:2]
    if kind == NOT_ALLOWED:
        assert tokens(detail) == tokens(expected[2])
    else:
        assert detail == expected[2]


@pytest.mark.parametrize('method, path, allow', [
    ('POST', '/', 'GET, HEAD, OPTIONS'),
    ('DELETE', '/led/1', 'GET, HEAD, OPTIONS, PUT'),
    ('OPTIONS', '/led/1', 'GET, HEAD, OPTIONS, PUT'),
    ('POST', '/u/5', 'GET, HEAD, OPTIONS'),          # <name> matched first
    ('GET', '/form', 'OPTIONS, POST'),
    ('HEAD', '/form', 'OPTIONS, POST'),               # no GET to fall back to
])
def test_router_match_not_allowed(method, path, allow):
    kind, target, detail = make_router().match(method, path)
    assert (kind, target) == (NOT_ALLOWED, None)
    assert tokens(detail) == tokens(allow)


def test_router_match_options_star_lists_every_method():
    kind, target, detail = make_router().match('OPTIONS', '*')
    assert (kind, target) == (NOT_ALLOWED, None)
    assert tokens(detail) == ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']
    assert Router().match('OPTIONS', '*') == (NOT_ALLOWED, None, 'OPTIONS')


class Mounted:
    """What a Router mounts: anything with a router of its own."""

    def __init__(self, router):
        self.router = router


@pytest.mark.parametrize('path, expected', [
    ('/api', (MOUNTED, 'api', '/')),
    ('/api/', (MOUNTED, 'api', '/')),
    ('/api/items/3', (MOUNTED, 'api', '/items/3')),
    ('/api/v1/status', (MOUNTED, 'api', '/v1/status')),  # the first mount whose prefix fits
    ('/apix', (NOT_FOUND, None, None)),
    ('/api/own', (FOUND, 'own', {})),                    # the router's own routes come first
    ('/v2/x', (MOUNTED, 'v2', '/x')),
])
def test_router_match_mounts(path, expected):
    router = Router()
    api = Mounted(Router())
    v2 = Mounted(Router())
    router.mounts.append(('/api', api))
    router.mounts.append(('/api/v1', v2))
    router.mounts.append(('/v2', v2))
    add_route(router, '/api/own').handlers['GET'] = handler
    kind, target, detail = router.match('GET', path)
    targets = {'api': api, 'v2': v2, 'own': handler, None: None}
    assert (kind, target, detail) == (expected[0], targets[expected[1]], expected[2])
