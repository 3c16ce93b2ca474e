"""Unit tests of weblet.urls: building a route's path back from its parameters,
and a path from a route's name through mounted apps (url_for).

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

from weblet.escaping import unquote  # noqa: E402
from weblet.routing import Router  # noqa: E402
from weblet.setup import add_route, compile_route  # noqa: E402
from weblet.urls import build_path, find_route, url_for  # noqa: E402


class Mounted:
    """What a Router mounts: anything with a router of its own."""

    def __init__(self, router):
        self.router = router


# -- build_path ----------------------------------------------------------

def test_build_path_consumes_params():
    route = compile_route('/led/<int:pin>/<name>')
    params = {'pin': 5, 'name': 'red', 'extra': 1}
    assert build_path(route, params) == '/led/5/red'
    assert params == {'extra': 1}


def test_build_path_missing_param():
    with pytest.raises(ValueError) as info:
        build_path(compile_route('/led/<int:pin>'), {})
    assert 'pin' in str(info.value)


@pytest.mark.parametrize('pattern, params, path', [
    ('/u/<name>', {'name': 'a b/c'}, '/u/a%20b%2Fc'),
    ('/u/<name>', {'name': 'caf\u00e9'}, '/u/caf%C3%A9'),
    ('/s/<path:p>', {'p': 'a b/c.css'}, '/s/a%20b/c.css'),
    ('/f/report-<int:y>.pdf', {'y': 7}, '/f/report-7.pdf'),
])
def test_build_path_quotes(pattern, params, path):
    assert build_path(compile_route(pattern), params) == path


def test_build_path_then_match():
    route = compile_route('/a/<name>/n-<int:number>.x/<path:rest>')
    params = {'name': 'café & co', 'number': 12, 'rest': 'x y/z'}
    built = build_path(route, dict(params))
    assert built == '/a/caf%C3%A9%20%26%20co/n-12.x/x%20y/z'
    assert route.match(unquote(built).split('/')) == params


# -- find_route and url_for ---------------------------------------------------------

def named_router():
    router = Router()
    for pattern, name in (('/', 'index'), ('/led/<int:pin>', 'led'),
                          ('/u/<user>/files/<path:rest>', 'user_file')):
        router.names[name] = add_route(router, pattern)
    return router


def test_url_for():
    router = named_router()
    assert url_for(router, 'index', {}) == '/'
    assert url_for(router, 'led', {'pin': 5}) == '/led/5'
    assert url_for(router, 'user_file', {'user': 'ann b', 'rest': 'a/b c.txt'}) == (
        '/u/ann%20b/files/a/b%20c.txt')


def test_url_for_extra_params_become_query():
    router = named_router()
    assert url_for(router, 'led', {'pin': 5, 'blink': 'yes please'}) == '/led/5?blink=yes%20please'
    assert url_for(router, 'index', {'k y': 'a/b&c=d'}) == '/?k%20y=a%2Fb%26c%3Dd'
    path, _, query = url_for(router, 'index', {'a': 1, 'b': 2}).partition('?')
    assert path == '/' and sorted(query.split('&')) == ['a=1', 'b=2']


def test_url_for_errors():
    router = named_router()
    with pytest.raises(ValueError) as info:
        url_for(router, 'nope', {})
    assert 'nope' in str(info.value)
    with pytest.raises(ValueError) as info:
        url_for(router, 'led', {})
    assert 'pin' in str(info.value)


def test_find_route_and_url_for_through_mounts():
    router = named_router()
    api = Router()
    v1 = Router()
    api.names['item'] = add_route(api, '/items/<int:id>')
    api.names['api_index'] = add_route(api, '/')
    v1.names['status'] = add_route(v1, '/status')
    v1.names['led'] = add_route(v1, '/led/<int:pin>')   # shadowed by the parent's 'led'
    api.mounts.append(('/v1', Mounted(v1)))
    router.mounts.append(('/api', Mounted(api)))
    assert find_route(router, 'item') == (api.names['item'], '/api')
    assert find_route(router, 'status') == (v1.names['status'], '/api/v1')
    assert find_route(router, 'led') == (router.names['led'], '')
    assert find_route(router, 'nope') is None
    assert url_for(router, 'item', {'id': 3}) == '/api/items/3'
    assert url_for(router, 'item', {'id': 3, 'full': 1}) == '/api/items/3?full=1'
    assert url_for(router, 'api_index', {}) == '/api/'
    assert url_for(router, 'status', {}) == '/api/v1/status'
    assert url_for(api, 'status', {}) == '/v1/status'
    assert url_for(router, 'led', {'pin': 1}) == '/led/1'
    assert url_for(v1, 'led', {'pin': 1}) == '/led/1'
    with pytest.raises(ValueError):
        url_for(api, 'index', {})  # a mounted router does not see its parent's routes
