"""weblet-cors over real sockets on both interpreters (app: tests/apps/cors_app.py).

Three policies: ``list`` (two origins, credentials, limited methods and headers),
``star`` (the defaults: any origin, no credentials) and ``star-cred`` (any origin,
with credentials). The routes come from the core, a plugin, weblet-restapi and a
mounted sub-app. See tests/test_cors_browser.py for the same in a real browser.
"""
import http.client

import pytest

from conftest import start_app
from test_restapi import run_script

UI = 'https://ui.example'
CORS_NAMES = ('access-control-allow-origin', 'access-control-allow-credentials',
              'access-control-allow-methods', 'access-control-allow-headers',
              'access-control-max-age', 'access-control-expose-headers')


@pytest.fixture(scope='module')
def servers(staged):
    """``servers(interp, mode)``: one running cors_app per interpreter and mode."""
    started = {}

    def get(interp, mode):
        if (interp, mode) not in started:
            started[interp, mode] = start_app(staged, interp, 'cors_app', mode)
        return started[interp, mode]
    yield get
    for app in started.values():
        app.stop()


def fetch(app, method, path, headers=None):
    """``(status, headers with lower-case names, body)``."""
    conn = http.client.HTTPConnection(app.host, app.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def preflight(app, path, origin=UI, method='DELETE', request_headers=None):
    headers = {'Origin': origin, 'Access-Control-Request-Method': method}
    if request_headers:
        headers['Access-Control-Request-Headers'] = request_headers
    return fetch(app, 'OPTIONS', path, headers)


def cors_headers(headers):
    return {name: headers[name] for name in CORS_NAMES if name in headers}


# -- a list of origins, with credentials ------------------------------------------------

def test_simple_request_from_an_allowed_origin(servers, interp):
    status, headers, body = fetch(servers(interp, 'list'), 'GET', '/hello', {'Origin': UI})
    assert (status, body) == (200, b'hello')
    assert cors_headers(headers) == {'access-control-allow-origin': UI,
                                     'access-control-allow-credentials': 'true',
                                     'access-control-expose-headers': 'X-Request-Id'}
    assert headers['vary'] == 'Accept-Encoding, Origin'


def test_simple_request_from_another_origin_gets_no_cors_headers(servers, interp):
    app = servers(interp, 'list')
    for origin in ('https://evil.example', 'https://ui.example:8443', 'null'):
        status, headers, body = fetch(app, 'GET', '/hello', {'Origin': origin})
        assert (status, body) == (200, b'hello')
        assert cors_headers(headers) == {}
        assert headers['vary'] == 'Accept-Encoding, Origin'


# Origins an attacker can send that look like the allowed one: each is compared
# whole, as a string, never as a pattern, a prefix, a suffix or a list.
LOOKALIKES = ['https://ui.example.evil.example', 'https://evilui.example', 'https://ui.exampl',
              'https://ui.example/', 'https://ui.example.', 'http://ui.example', 'ui.example',
              'https://ui.example, https://evil.example',
              'https://ui.example%00.evil.example', 'https://ui.example:443', 'https://*.example',
              'https://ui\\.example', '*']


@pytest.mark.parametrize('origin', LOOKALIKES)
def test_an_origin_that_only_looks_allowed_is_not_reflected(servers, interp, origin):
    app = servers(interp, 'list')
    status, headers, body = fetch(app, 'GET', '/hello', {'Origin': origin})
    assert (status, body) == (200, b'hello') and cors_headers(headers) == {}
    assert cors_headers(preflight(app, '/hello', origin, 'PUT')[1]) == {}


def test_no_origin_no_cors_headers_but_vary(servers, interp):
    status, headers, _ = fetch(servers(interp, 'list'), 'GET', '/plugin')
    assert status == 200 and cors_headers(headers) == {} and headers['vary'] == 'Origin'


@pytest.mark.releases
def test_preflight_allowed(servers, interp):
    # The token check would answer 401: CORS, installed first, answers the preflight.
    status, headers, body = preflight(servers(interp, 'list'), '/private/data',
                                      request_headers='x-token,content-type')
    assert (status, body) == (204, b'')
    assert cors_headers(headers) == {
        'access-control-allow-origin': UI, 'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, PUT, DELETE',
        'access-control-allow-headers': 'Content-Type, X-Token',
        'access-control-max-age': '300'}
    assert headers['vary'] == 'Origin' and 'allow' not in headers


def test_preflight_with_a_safelisted_method_and_no_headers(servers, interp):
    status, headers, _ = preflight(servers(interp, 'list'), '/hello', 'http://127.0.0.1:8000',
                                   'POST')
    assert status == 204
    assert headers['access-control-allow-origin'] == 'http://127.0.0.1:8000'


@pytest.mark.parametrize('origin, method, request_headers', [
    ('https://evil.example', 'DELETE', None),  # origin not allowed
    (UI, 'PATCH', None),                       # method not allowed
    (UI, 'DELETE', 'x-token, x-evil'),         # one header not allowed
])
def test_preflight_refused_gets_no_cors_headers(servers, interp, origin, method,
                                                request_headers):
    app = servers(interp, 'list')
    # A refused preflight is a plain OPTIONS request to the app: the automatic answer...
    status, headers, _ = preflight(app, '/hello', origin, method, request_headers)
    assert status == 204 and headers['allow'] == 'GET, HEAD, OPTIONS'
    assert cors_headers(headers) == {}
    # ... or whatever the app's hooks say (the token check).
    status, headers, _ = preflight(app, '/private/data', origin, method, request_headers)
    assert status == 401 and cors_headers(headers) == {}


@pytest.mark.parametrize('path, expected_status', [
    ('/hello', 200),         # the core's route
    ('/plugin', 200),        # another plugin's route
    ('/api/items', 200),     # weblet-restapi
    ('/sub/hello', 200),     # a mounted sub-app
    ('/nope', 404),          # an error made by the core
    ('/private/data', 401),  # an answer from a before-request hook
])
def test_every_kind_of_route_and_answer_gets_the_headers(servers, interp, path,
                                                         expected_status):
    status, headers, _ = fetch(servers(interp, 'list'), 'GET', path, {'Origin': UI})
    assert status == expected_status
    assert headers['access-control-allow-origin'] == UI
    assert headers['access-control-allow-credentials'] == 'true'
    assert 'Origin' in headers['vary']


def test_preflight_to_restapi_and_to_a_route_with_its_own_options(servers, interp):
    app = servers(interp, 'list')
    for path in ('/api/items', '/own-options', '/sub/hello'):
        status, headers, body = preflight(app, path, method='PUT',
                                          request_headers='content-type')
        assert (status, body) == (204, b'')
        assert headers['access-control-allow-origin'] == UI
    # An OPTIONS request that is not a preflight reaches the route, and gets the headers.
    status, headers, body = fetch(app, 'OPTIONS', '/own-options', {'Origin': UI})
    assert (status, body, headers['access-control-allow-origin']) == (200, b'mine', UI)
    status, headers, _ = fetch(app, 'OPTIONS', '/api/items', {'Origin': UI})
    assert (status, headers['allow'], headers['access-control-allow-origin']) == (
        204, 'GET, PUT, HEAD, OPTIONS', UI)


def test_actual_request_after_preflight(servers, interp):
    status, headers, body = fetch(servers(interp, 'list'), 'DELETE', '/private/data',
                                  {'Origin': UI, 'X-Token': 's3cret', 'Cookie': 'session=abc'})
    assert status == 200 and b'"cookie": "abc"' in body
    assert headers['access-control-allow-origin'] == UI


# -- any origin, no credentials (the defaults) -----------------------------------------

def test_star_answers_every_request_alike(servers, interp):
    app = servers(interp, 'star')
    for extra in ({}, {'Origin': UI}, {'Origin': 'null'}):
        status, headers, _ = fetch(app, 'GET', '/hello', extra)
        assert status == 200
        assert cors_headers(headers) == {'access-control-allow-origin': '*'}
        assert headers['vary'] == 'Accept-Encoding'  # not by Origin: the answer is the same


def test_star_preflight_echoes_the_requested_method_and_headers(servers, interp):
    status, headers, _ = preflight(servers(interp, 'star'), '/anything', UI, 'PATCH',
                                   'x-one, x-two')
    assert status == 204
    assert cors_headers(headers) == {
        'access-control-allow-origin': '*', 'access-control-allow-methods': 'PATCH',
        'access-control-allow-headers': 'x-one, x-two', 'access-control-max-age': '600'}
    assert headers['vary'] == 'Access-Control-Request-Method, Access-Control-Request-Headers'


# -- any origin, with credentials -----------------------------------------------------

def test_star_with_credentials_echoes_the_origin_never_star(servers, interp):
    app = servers(interp, 'star-cred')
    status, headers, _ = fetch(app, 'GET', '/hello', {'Origin': 'https://any.example'})
    assert cors_headers(headers) == {'access-control-allow-origin': 'https://any.example',
                                     'access-control-allow-credentials': 'true'}
    assert headers['vary'] == 'Accept-Encoding, Origin'
    status, headers, _ = preflight(app, '/hello', 'https://any.example', 'PUT', 'x-a')
    assert status == 204 and cors_headers(headers) == {
        'access-control-allow-origin': 'https://any.example',
        'access-control-allow-credentials': 'true', 'access-control-allow-methods': 'PUT',
        'access-control-allow-headers': 'x-a'}  # max_age=None: no Max-Age
    assert headers['vary'] == ('Origin, Access-Control-Request-Method, '
                               'Access-Control-Request-Headers')
    # The 'null' origin (sandboxed frames, file: pages) is not trusted with credentials.
    assert cors_headers(fetch(app, 'GET', '/hello', {'Origin': 'null'})[1]) == {}
    assert cors_headers(preflight(app, '/hello', 'null', 'PUT')[1]) == {}


@pytest.mark.parametrize('interp', ['cpython', 'micropython'])
def test_argument_checks_name_the_argument(staged, interp):
    out = run_script(staged, interp, 'cors_checks')
    for case in ('defaults', 'origins-ok', 'max-age-none'):
        assert out[case] == 'OK', out
    for case in ('origins-str', 'origins-empty', 'origins-path', 'origins-scheme',
                 'origins-type'):
        assert out[case].startswith('ValueError CORS(origins='), out
    assert 'is not an origin' in out['origins-path']
    assert out['methods-str'].startswith('ValueError CORS(methods='), out
    assert out['methods-item'].startswith('ValueError CORS(methods='), out
    assert out['headers-comma'].startswith('ValueError CORS(headers='), out
    assert out['expose-type'].startswith('ValueError CORS(expose_headers='), out
    assert out['credentials'].startswith('ValueError CORS(credentials='), out
    assert out['max-age-negative'].startswith('ValueError CORS(max_age='), out
    assert out['max-age-bool'].startswith('ValueError CORS(max_age='), out
