"""Unit tests of the app layer's pure parts on CPython: Route patterns (and
weblet.forms.build_path), Response construction and cookies, make_response,
App argument validation and App.url_for (with mounted apps)."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'core'))

import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402

from weblet import App, HTTPError, Response, abort  # noqa: E402
from weblet.app import CONVERTERS, make_response  # noqa: E402
from weblet.appsetup import compile_route as Route  # noqa: E402
from weblet.forms import build_path, unquote  # noqa: E402
from weblet.protocol import Headers, format_head, parse_head  # noqa: E402

PROPERTY = settings(max_examples=300, deadline=None)


def parts(path):
    return path.split('/')


@pytest.fixture
def converter():
    """Register a custom converter for one test, and remove it afterwards."""
    added = []

    def add(name, parse, to_url=str):
        App.add_converter(name, parse, to_url)
        added.append(name)
    yield add
    for name in added:
        CONVERTERS.pop(name, None)


# -- Route: compiling -------------------------------------------------------------

def test_route_static():
    route = Route('/about/team')
    assert route.segments is None and not route.greedy
    assert route.handlers == {}
    assert build_path(route, {}) == '/about/team'


def test_route_compiles_segments():
    route = Route('/led/<int:pin>/<name>')
    assert route.segments == ['', 'led', ('', 'int', 'pin', ''), ('', 'str', 'name', '')]
    assert not route.greedy
    assert Route('/f/report-<int:y>.pdf').segments == [
        '', 'f', ('report-', 'int', 'y', '.pdf')]
    assert Route('/s/<path:p>').greedy


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
])
def test_route_bad_pattern_is_value_error(pattern):
    with pytest.raises(ValueError) as info:
        Route(pattern)
    assert repr(pattern) in str(info.value)


def test_route_bad_pattern_raises_when_registered():
    with pytest.raises(ValueError) as info:
        App().route('/x/<bogus:y>')
    assert 'path' in str(info.value)


def test_route_two_parameters_in_one_segment():
    try:
        route = Route('/<a>-<b>')
    except ValueError:
        return
    assert route.match(parts('/x-y')) == {'a': 'x', 'b': 'y'}


def test_route_repeated_parameter_name_is_value_error():
    with pytest.raises(ValueError):
        Route('/<a>/<a>')


# -- Route: matching --------------------------------------------------------------

@pytest.mark.parametrize('pattern, path, params', [
    ('/led/<int:pin>', '/led/5', {'pin': 5}),
    ('/led/<int:pin>', '/led/007', {'pin': 7}),
    ('/led/<int:pin>', '/led/x', None),
    ('/led/<int:pin>', '/led/-1', None),
    ('/led/<int:pin>', '/led/+1', None),
    ('/led/<int:pin>', '/led/1.5', None),
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
    assert Route(pattern).match(parts(path)) == params


def test_route_custom_converter(converter):
    converter('hexunit', lambda s: int(s, 16), lambda v: '%x' % v)
    route = Route('/c/<hexunit:color>')
    assert route.match(parts('/c/ff')) == {'color': 255}
    assert route.match(parts('/c/zz')) is None
    assert build_path(route, {'color': 255}) == '/c/ff'


def test_add_converter_rejects_non_callables():
    with pytest.raises(ValueError) as info:
        App.add_converter('nope_unit', 'not callable')
    assert 'nope_unit' in str(info.value)
    with pytest.raises(ValueError):
        App.add_converter('nope_unit', int, to_url=5)
    assert 'nope_unit' not in CONVERTERS


# -- building paths ---------------------------------------------------------------

def test_build_path_consumes_params():
    route = Route('/led/<int:pin>/<name>')
    params = {'pin': 5, 'name': 'red', 'extra': 1}
    assert build_path(route, params) == '/led/5/red'
    assert params == {'extra': 1}


def test_build_path_missing_param():
    with pytest.raises(ValueError) as info:
        build_path(Route('/led/<int:pin>'), {})
    assert 'pin' in str(info.value)


def test_build_path_quotes():
    assert build_path(Route('/u/<name>'), {'name': 'a b/c'}) == '/u/a%20b%2Fc'
    assert build_path(Route('/u/<name>'), {'name': 'caf\u00e9'}) == '/u/caf%C3%A9'
    assert build_path(Route('/s/<path:p>'), {'p': 'a b/c.css'}) == '/s/a%20b/c.css'
    assert build_path(Route('/f/report-<int:y>.pdf'), {'y': 7}) == '/f/report-7.pdf'


@PROPERTY
@given(name=st.text(min_size=1).filter(lambda s: '/' not in s),
       number=st.integers(0, 10 ** 12),
       path=st.lists(st.text(min_size=1).filter(lambda s: '/' not in s),
                     min_size=1, max_size=4).map('/'.join))
def test_prop_build_then_match(name, number, path):
    route = Route('/a/<name>/n-<int:number>.x/<path:rest>')
    params = {'name': name, 'number': number, 'rest': path}
    built = build_path(route, dict(params))
    assert all(32 < ord(c) < 127 for c in built)
    assert route.match(unquote(built).split('/')) == params


# -- Response -----------------------------------------------------------------------

def test_response_defaults():
    resp = Response()
    assert resp.status == 200 and resp.body == b''
    assert 'content-type' not in resp.headers
    assert list(resp.cookies) == []
    assert resp.takeover is None


@pytest.mark.parametrize('body, raw, content_type', [
    ('<p>hi</p>', b'<p>hi</p>', 'text/html; charset=utf-8'),
    ('caf\u00e9', b'caf\xc3\xa9', 'text/html; charset=utf-8'),
    ('', b'', None),
    (b'\x00\x01', b'\x00\x01', 'application/octet-stream'),
    (b'', b'', None),
    (bytearray(b'ab'), bytearray(b'ab'), 'application/octet-stream'),
    (bytearray(), bytearray(), None),
    (None, b'', None),
    ({'a': 1}, b'{"a": 1}', 'application/json'),
    ([1, 'x'], b'[1, "x"]', 'application/json'),
    ({}, b'{}', 'application/json'),
    ([], b'[]', 'application/json'),
])
def test_response_body_types(body, raw, content_type):
    resp = Response(body)
    assert resp.body == raw
    assert resp.headers.get('Content-Type') == content_type


def test_response_memoryview_body():
    resp = Response(memoryview(b'abc'))
    assert bytes(resp.body) == b'abc'
    assert resp.headers['content-type'] == 'application/octet-stream'


def test_response_stream_bodies():
    def gen():
        yield b'a'

    async def agen():
        yield b'a'

    class Readable:
        def read(self, n):
            return b''
    for body in (gen(), agen(), Readable()):
        resp = Response(body)
        assert resp.body is body
        assert resp.headers['Content-Type'] == 'application/octet-stream'


@pytest.mark.parametrize('body', [5, 1.5, True, object(), {1, 2}, (1, 2)])
def test_response_rejects_other_body_types(body):
    with pytest.raises(TypeError):
        Response(body)


def test_response_explicit_content_type_wins():
    for body in ('x', b'x', {'a': 1}, [1]):
        resp = Response(body, headers={'content-type': 'text/plain'})
        assert resp.headers['Content-Type'] == 'text/plain'
        assert len(resp.headers.items()) == 1


def test_response_status_and_headers():
    resp = Response('<p>saved</p>', 201, {'X-Id': '7'})
    assert resp.status == 201 and resp.headers['x-id'] == '7'
    headers = Headers({'X-A': '1'})
    assert Response(b'', 200, headers).headers is headers


def test_response_rejects_cr_lf_in_header_values():
    with pytest.raises(ValueError):
        Response('x', 200, {'X-A': 'a\r\nSet-Cookie: evil=1'})


def test_response_json():
    resp = Response.json({'ok': True}, 201, {'Content-Type': 'text/plain', 'X-A': '1'})
    assert resp.status == 201
    assert json.loads(resp.body) == {'ok': True}
    assert resp.headers['Content-Type'] == 'application/json'
    assert resp.headers['X-A'] == '1'
    assert Response.json([1, 2]).body == b'[1, 2]'
    assert Response.json('text').body == b'"text"'
    assert Response.json(None).body == b'null'


@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_response_redirect(status):
    resp = Response.redirect('/next?a=1', status)
    assert resp.status == status and resp.body == b''
    assert resp.headers['Location'] == '/next?a=1'
    assert Response.redirect('/x').status == 302


@pytest.mark.parametrize('url', [
    '/x\r\nSet-Cookie: a=1', '/x\nX-A: 1', '/x\r', '\n', 'http://e.com/\r\n\r\n<script>',
])
def test_response_redirect_rejects_cr_lf(url):
    with pytest.raises(ValueError):
        Response.redirect(url)


# -- Response cookies ------------------------------------------------------------

def cookie(*args, **kwargs):
    resp = Response()
    resp.set_cookie(*args, **kwargs)
    return resp.cookies


def test_set_cookie_minimal():
    assert cookie('a', '1') == ['a=1; Path=/']
    assert cookie('a', '') == ['a=; Path=/']
    assert cookie('a', '1', path=None) == ['a=1']
    assert cookie('n', 5) == ['n=5; Path=/']


def test_set_cookie_every_option():
    assert cookie(name='session', value='tok', max_age=3600, path='/app',
                  http_only=True, secure=True, same_site='Lax',
                  domain='example.com', expires='Wed, 21 Oct 2037 07:28:00 GMT') == [
        'session=tok; Max-Age=3600; Expires=Wed, 21 Oct 2037 07:28:00 GMT; '
        'Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=Lax']


@pytest.mark.parametrize('same_site', ['Strict', 'Lax', 'None'])
def test_set_cookie_same_site(same_site):
    assert cookie('a', '1', same_site=same_site) == ['a=1; Path=/; SameSite=' + same_site]


def test_set_cookie_several_reach_format_head():
    resp = Response()
    resp.set_cookie('a', '1')
    resp.set_cookie('b', '2', http_only=True)
    assert resp.cookies == ['a=1; Path=/', 'b=2; Path=/; HttpOnly']
    head = format_head(resp.status, resp.headers.items(), resp.cookies)
    assert head.count(b'\r\nSet-Cookie: ') == 2


def test_set_cookies_are_per_response():
    first, second = Response(), Response()
    first.set_cookie('a', '1')
    assert list(second.cookies) == [] and list(Response.cookies) == []


# The characters each field refuses: every field refuses ';', CR, LF and NUL.
BAD_COOKIE_TEXT = {
    'name': list(';,\r\n\x00\x1f\x7f \t"\\=()<>@:/[]?{}'),
    'value': list(';,\r\n\x00\x1f\x7f \t"\\'),
    'path': list(';\r\n\x00\x1f\x7f\t'),
    'domain': list(';,\r\n\x00 '),
    'expires': list(';\r\n\x00'),
}


@pytest.mark.parametrize('field, char', [
    (field, char) for field, chars in BAD_COOKIE_TEXT.items() for char in chars])
def test_set_cookie_rejects_bad_characters(field, char):
    kwargs = {'name': 'a', 'value': 'b', 'path': '/', 'domain': 'example.com',
              'expires': 'Wed, 21 Oct 2037 07:28:00 GMT'}
    kwargs[field] = kwargs[field] + char + 'x'
    resp = Response()
    with pytest.raises(ValueError) as info:
        resp.set_cookie(**kwargs)
    assert field in str(info.value)
    assert list(resp.cookies) == []


@pytest.mark.parametrize('same_site', ['lax', 'strict', 'none', 'Loose', 'Lax\r\n'])
def test_set_cookie_rejects_bad_same_site(same_site):
    with pytest.raises(ValueError) as info:
        Response().set_cookie('a', '1', same_site=same_site)
    assert 'same_site' in str(info.value)


def test_set_cookie_rejects_empty_name():
    with pytest.raises(ValueError) as info:
        Response().set_cookie('', '1')
    assert 'name' in str(info.value)


def test_set_cookie_rejects_non_ascii_name():
    with pytest.raises(ValueError):
        Response().set_cookie('caf\u00e9', '1')


def test_delete_cookie():
    resp = Response()
    resp.delete_cookie('session')
    resp.delete_cookie('pref', path='/app', domain='example.com')
    assert resp.cookies == [
        'session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/',
        'pref=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; '
        'Domain=example.com; Path=/app']


@pytest.mark.parametrize('kwargs', [
    {'name': ''}, {'name': 'a;b'}, {'name': 'a b'}, {'name': 'a', 'path': '/\r\n'},
    {'name': 'a', 'domain': 'e.com;x'},
])
def test_delete_cookie_validates(kwargs):
    with pytest.raises(ValueError):
        Response().delete_cookie(**kwargs)


def test_set_cookie_output_parses_as_header():
    resp = Response()
    resp.set_cookie('a', '1', max_age=10, same_site='Strict', http_only=True)
    head = format_head(200, (), resp.cookies)
    request = b'GET / HTTP/1.1\r\n' + head.partition(b'\r\n')[2][:-2]
    assert parse_head(request)[3] == {
        'set-cookie': 'a=1; Max-Age=10; Path=/; HttpOnly; SameSite=Strict'}


# -- make_response ------------------------------------------------------------------

def test_make_response_passes_responses_through():
    resp = Response('x', 418)
    assert make_response(resp) is resp
    assert resp.status == 418


@pytest.mark.parametrize('result, status, body, content_type', [
    ('hi', 200, b'hi', 'text/html; charset=utf-8'),
    (b'hi', 200, b'hi', 'application/octet-stream'),
    ({'a': 1}, 200, b'{"a": 1}', 'application/json'),
    ([1], 200, b'[1]', 'application/json'),
    (None, 204, b'', None),
    (('hi',), 200, b'hi', 'text/html; charset=utf-8'),
    (('hi', 201), 201, b'hi', 'text/html; charset=utf-8'),
    (({'a': 1}, 400), 400, b'{"a": 1}', 'application/json'),
    ((None, 201), 201, b'', None),
    ((None,), 204, b'', None),
    (('', 404), 404, b'', None),
])
def test_make_response_values(result, status, body, content_type):
    resp = make_response(result)
    assert isinstance(resp, Response)
    assert resp.status == status and resp.body == body
    assert resp.headers.get('content-type') == content_type


def test_make_response_three_tuple():
    resp = make_response(('hi', 202, {'X-A': '1', 'Content-Type': 'text/plain'}))
    assert resp.status == 202
    assert resp.headers['x-a'] == '1'
    assert resp.headers['content-type'] == 'text/plain'
    assert make_response(('hi', 200, None)).status == 200


def test_make_response_tuple_with_response():
    inner = Response('x', 200, {'X-A': '1'})
    resp = make_response((inner, 404, {'X-B': '2'}))
    assert resp is inner
    assert resp.status == 404
    assert resp.headers['X-A'] == '1' and resp.headers['X-B'] == '2'
    assert make_response((Response('y'), 201)).status == 201
    assert make_response((Response('z', 418),)).status == 418


@pytest.mark.parametrize('result', [(), (1, 2, 3, 4), ('a', 200, {}, None, 1)])
def test_make_response_bad_tuple_is_value_error(result):
    with pytest.raises(ValueError) as info:
        make_response(result)
    assert str(len(result)) in str(info.value)


def test_abort_raises_http_error():
    with pytest.raises(HTTPError) as info:
        abort(403, 'nope')
    assert (info.value.status, info.value.message) == (403, 'nope')


# -- App argument validation ---------------------------------------------------

NUMERIC_ARGS = ['max_body', 'max_header_bytes', 'max_headers', 'max_line',
                'request_timeout', 'keepalive_timeout', 'max_connections']


@pytest.mark.parametrize('value', [0, -1, -0.5, '5', None, True, False, [1], 0.0])
@pytest.mark.parametrize('name', NUMERIC_ARGS)
def test_app_rejects_bad_numbers_naming_the_argument(name, value):
    with pytest.raises(ValueError) as info:
        App(**{name: value})
    assert name in str(info.value)


@pytest.mark.parametrize('name', NUMERIC_ARGS)
def test_app_accepts_positive_numbers(name):
    for value in (1, 0.5, 10 ** 6):
        assert getattr(App(**{name: value}), name) == value


def test_app_defaults():
    app = App()
    assert app.max_body == 16 * 1024 and app.max_header_bytes == 4096
    assert app.max_headers == 32 and app.max_line == 2048
    assert app.max_connections == 8 and app.debug is False


@pytest.mark.parametrize('path', ['', 'x', 'x/', b'/x', None, 5, ' /x'])
def test_route_rejects_bad_path(path):
    with pytest.raises(ValueError) as info:
        App().route(path)
    assert 'path' in str(info.value)


@pytest.mark.parametrize('methods', ['GET', '', [], ()])
def test_route_rejects_bad_methods(methods):
    with pytest.raises(ValueError) as info:
        App().route('/', methods=methods)
    assert 'methods' in str(info.value)


def test_route_method_shortcuts_and_names():
    app = App()

    @app.get('/g')
    def g(req):
        pass

    @app.post('/p', name='make')
    def p(req):
        pass

    @app.put('/p')
    def p_put(req):
        pass

    @app.route('/multi', methods=['patch', 'DELETE'])
    def multi(req):
        pass
    assert app._static['/g'].handlers == {'GET': g}
    assert app._static['/p'].handlers == {'POST': p, 'PUT': p_put}
    assert app._static['/multi'].handlers == {'PATCH': multi, 'DELETE': multi}
    assert app.url_for('make') == '/p'
    assert app.url_for('p_put') == '/p'


@pytest.mark.parametrize('prefix', ['', '/', 'api', '/api/', b'/api', None])
def test_mount_rejects_bad_prefix(prefix):
    with pytest.raises(ValueError) as info:
        App().mount(prefix, App())
    assert 'prefix' in str(info.value)


@pytest.mark.parametrize('sub', [None, object(), 'app'])
def test_mount_rejects_non_app(sub):
    with pytest.raises(ValueError) as info:
        App().mount('/api', sub)
    assert 'app' in str(info.value)


def test_use_rejects_non_plugin_and_installs_once():
    app = App()
    with pytest.raises(ValueError) as info:
        app.use(object())
    assert 'plugin' in str(info.value)

    class Plugin:
        installs = 0

        def install(self, app):
            self.installs += 1
    plugin = Plugin()
    assert app.use(plugin) is plugin
    assert app.use(plugin) is plugin
    assert plugin.installs == 1


@pytest.mark.parametrize('key', ['404', None, 4.04, object(), Response])
def test_errorhandler_rejects_bad_keys(key):
    with pytest.raises(ValueError):
        App().errorhandler(key)


def test_errorhandler_accepts_status_and_exception_class():
    app = App()
    for key in (404, KeyError, HTTPError, Exception):
        assert app.errorhandler(key)(print) is print


# -- url_for ------------------------------------------------------------------------

def make_app():
    app = App()

    @app.route('/')
    def index(req):
        pass

    @app.route('/led/<int:pin>')
    def led(req, pin):
        pass

    @app.route('/u/<user>/files/<path:rest>', name='user_file')
    def user_file(req, user, rest):
        pass

    @app.route('/hello/<name>')
    def hello(req, name):
        pass
    return app


def test_url_for_static_and_params():
    app = make_app()
    assert app.url_for('index') == '/'
    assert app.url_for('led', pin=5) == '/led/5'
    assert app.url_for('user_file', user='ann b', rest='a/b c.txt') == (
        '/u/ann%20b/files/a/b%20c.txt')


def test_url_for_parameter_called_name():
    assert make_app().url_for('hello', name='ann') == '/hello/ann'


def test_url_for_extra_params_become_query():
    app = make_app()
    assert app.url_for('led', pin=5, blink='yes please') == '/led/5?blink=yes%20please'
    assert app.url_for('index', a=1, b='x/y&z=1') == '/?a=1&b=x%2Fy%26z%3D1'
    assert app.url_for('index', **{'k y': 'caf\u00e9'}) == '/?k%20y=caf%C3%A9'


def test_url_for_errors():
    app = make_app()
    with pytest.raises(ValueError) as info:
        app.url_for('nope')
    assert 'nope' in str(info.value)
    with pytest.raises(ValueError) as info:
        app.url_for('led')
    assert 'pin' in str(info.value)


def test_url_for_mounted_apps():
    app = make_app()
    api = App()
    v1 = App()

    @api.route('/items/<int:id>')
    def item(req, id):
        pass

    @api.route('/')
    def api_index(req):
        pass

    @v1.route('/status')
    def status(req):
        pass

    @v1.route('/led/<int:pin>', name='led')  # shadowed by the parent's 'led'
    def v1_led(req, pin):
        pass
    api.mount('/v1', v1)
    app.mount('/api', api)
    assert app.url_for('item', id=3) == '/api/items/3'
    assert app.url_for('item', id=3, full=1) == '/api/items/3?full=1'
    assert app.url_for('api_index') == '/api/'
    assert app.url_for('status') == '/api/v1/status'
    assert api.url_for('status') == '/v1/status'
    assert app.url_for('led', pin=1) == '/led/1'
    assert v1.url_for('led', pin=1) == '/led/1'
    with pytest.raises(ValueError):
        api.url_for('index')  # a mounted app does not see its parent's routes


def test_url_for_later_registration_of_a_name_wins():
    app = App()

    @app.route('/old', name='page')
    def old(req):
        pass

    @app.route('/new', name='page')
    def new(req):
        pass
    assert app.url_for('page') == '/new'


def test_url_for_custom_converter(converter):
    converter('hexunit2', lambda s: int(s, 16), lambda v: '%x' % v)
    app = App()

    @app.route('/c/<hexunit2:color>')
    def color(req, color):
        pass
    assert app.url_for('color', color=255) == '/c/ff'
