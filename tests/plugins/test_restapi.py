"""weblet-restapi over real sockets on both interpreters (app: tests/apps/restapi_app.py)."""
import http.client
import json

import pytest

from conftest import served, APPS, INTERPRETERS, parallel_clients, raw_exchange, run_apps_script


srv = served('restapi_app')


def fetch(srv, method, path, body=None, headers=None, conn=None):
    """``(status, headers, body bytes)``; on ``conn`` if given (keep-alive), else a new one."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = dict(headers or {}, **{'Content-Type': 'application/json'})
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        if own:
            conn.close()


def fetch_json(srv, method, path, body=None, headers=None):
    status, headers, raw = fetch(srv, method, path, body, headers)
    assert headers.get('Content-Type') == 'application/json', (status, headers, raw)
    return status, headers, json.loads(raw)


def test_get_list_and_item(srv):
    status, _, items = fetch_json(srv, 'GET', '/api/customers')
    assert status == 200 and {'id': 1, 'name': 'Ada'} in items
    assert fetch_json(srv, 'GET', '/api/customers/1')[::2] == (200, {'id': 1, 'name': 'Ada'})


def test_abort_is_a_json_error(srv):
    assert fetch_json(srv, 'GET', '/api/customers/999')[::2] == (
        404, {'error': 'no such customer', 'status': 404})


@pytest.mark.releases
def test_async_post_json_with_status_and_headers(srv):
    status, headers, body = fetch_json(srv, 'POST', '/api/customers', {'id': 7, 'name': 'Bo'})
    assert status == 201
    assert headers['Location'] == '/api/customers/7'
    assert body == {'message': 'created', 'data': {'id': 7, 'name': 'Bo'}}
    assert fetch_json(srv, 'GET', '/api/customers/7')[2] == {'id': 7, 'name': 'Bo'}


def test_put_patch_delete(srv):
    assert fetch_json(srv, 'PUT', '/api/customers/8', {'name': 'Cy'})[::2] == (200, {'name': 'Cy'})
    assert fetch_json(srv, 'PATCH', '/api/customers/8', {'age': 3})[::2] == (
        200, {'name': 'Cy', 'age': 3})
    status, headers, body = fetch(srv, 'DELETE', '/api/customers/8')
    assert (status, body) == (204, b'') and 'Content-Length' not in headers
    assert fetch_json(srv, 'GET', '/api/customers/8')[0] == 404
    assert fetch_json(srv, 'PATCH', '/api/customers/8', {'age': 4})[::2] == (
        404, {'error': 'Not Found', 'status': 404})


def test_json_body_is_merged_over_query_args(srv):
    _, _, body = fetch_json(srv, 'POST', '/api/echo?a=query&b=query', {'b': 'body', 'c': [1]})
    assert body == {'data': {'a': 'query', 'b': 'body', 'c': [1]}, 'method': 'POST'}


def test_json_list_body_is_data_as_is(srv):
    _, _, body = fetch_json(srv, 'PUT', '/api/echo?a=1', [1, 2, 3])
    assert body == {'data': [1, 2, 3], 'method': 'PUT'}


def test_form_body_is_merged_over_query_args(srv):
    _, _, body = fetch_json(srv, 'PATCH', '/api/echo?a=query&b=query', 'b=form+x&d=%C3%A9',
                            {'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8'})
    assert body == {'data': {'a': 'query', 'b': 'form x', 'd': '\u00e9'}, 'method': 'PATCH'}


def test_no_body_means_query_args(srv):
    _, _, body = fetch_json(srv, 'POST', '/api/echo?a=1', b'', {'Content-Type': 'text/plain'})
    assert body == {'data': {'a': '1'}, 'method': 'POST'}


def test_chunked_json_body(srv):
    payload = b'{"big": "' + b'x' * 100 + b'"}'
    head = (b'POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
            b'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n')
    raw = raw_exchange(srv, head + b'%x\r\n%s\r\n0\r\n\r\n' % (len(payload), payload))
    assert raw.startswith(b'HTTP/1.1 200 ')
    assert json.loads(raw.split(b'\r\n\r\n', 1)[1]) == {'data': {'big': 'x' * 100},
                                                       'method': 'POST'}


def test_invalid_json_is_400_json(srv):
    status, _, body = fetch_json(srv, 'POST', '/api/echo', b'{"a": ',
                                 {'Content-Type': 'application/json'})
    assert (status, body) == (400, {'error': 'invalid JSON', 'status': 400})


@pytest.mark.parametrize('content_type', ['text/plain', 'multipart/form-data; boundary=x', None])
def test_wrong_content_type_is_415_json(srv, content_type):
    headers = {'Content-Type': content_type} if content_type else {}
    status, _, body = fetch_json(srv, 'POST', '/api/echo', b'a=1', headers)
    assert status == 415 and body['status'] == 415 and 'JSON' in body['error']


def test_body_over_max_body_is_413_json(srv):
    status, _, body = fetch_json(srv, 'POST', '/api/echo', {'x': 'y' * 2000})
    assert status == 413 and body['status'] == 413


def test_missing_method_is_405_with_allow_and_json(srv):
    status, headers, body = fetch_json(srv, 'DELETE', '/api/readonly')
    assert status == 405 and headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert body == {'error': 'method DELETE not allowed', 'status': 405}
    status, headers, _ = fetch_json(srv, 'POST', '/api/customers/1', {'a': 1})
    assert status == 405 and headers['Allow'] == 'GET, PUT, PATCH, DELETE, HEAD, OPTIONS'
    # A function resource answers only its methods; without GET there is no HEAD.
    status, headers, body = fetch(srv, 'HEAD', '/api/echo')
    assert status == 405 and headers['Allow'] == 'POST, PUT, PATCH, OPTIONS' and body == b''
    assert fetch_json(srv, 'GET', '/api/echo')[0] == 405


def test_options_lists_the_methods(srv):
    status, headers, body = fetch(srv, 'OPTIONS', '/api/customers')
    assert (status, headers['Allow'], body) == (204, 'GET, POST, HEAD, OPTIONS', b'')


def test_head_follows_get(srv):
    _, get_headers, get_body = fetch(srv, 'GET', '/api/customers/1')
    status, headers, body = fetch(srv, 'HEAD', '/api/customers/1')
    assert (status, body) == (200, b'')
    assert headers['Content-Length'] == str(len(get_body)) == get_headers['Content-Length']


def test_add_resource_is_tinywebs_spelling(srv):
    assert fetch_json(srv, 'GET', '/api/thermostat')[2] == {'target': 21}


def test_constructor_and_function_kwargs(srv):
    assert fetch_json(srv, 'GET', '/api/config')[2] == {'unit': 'C', 'limit': 30}
    assert fetch_json(srv, 'GET', '/api/scaled/5')[2] == {'n': 15}


@pytest.mark.parametrize('path, expected', [
    ('/api/events', [{'n': 0}, {'n': 1}, {'n': 2}]),  # a generator function
    ('/api/ticks?n=4', [0, 1, 2, 3]),                 # an async generator, returned
    ('/api/raw-agen', ['first', 'second']),           # an async generator function
])
def test_generators_stream_chunked_json(srv, path, expected):
    status, headers, body = fetch(srv, 'GET', path)
    assert status == 200 and headers['Transfer-Encoding'] == 'chunked'
    assert headers['Content-Type'] == 'application/json' and 'Content-Length' not in headers
    assert json.loads(body) == expected


def test_head_of_a_stream_sends_no_body(srv):
    status, headers, body = fetch(srv, 'HEAD', '/api/events')
    assert (status, body, headers['Content-Type']) == (200, b'', 'application/json')


def test_return_values(srv):
    status, headers, body = fetch(srv, 'GET', '/api/nothing')
    assert (status, body) == (204, b'') and 'Content-Type' not in headers
    assert fetch(srv, 'POST', '/api/nothing', {'a': 1})[::2] == (204, b'')
    assert fetch(srv, 'GET', '/api/made')[::2] == (201, b'')
    status, headers, body = fetch_json(srv, 'GET', '/api/text')
    assert (status, headers['X-Kind'], body) == (200, 'text', 'hello')
    status, headers, body = fetch(srv, 'GET', '/api/response')
    assert (status, headers['Content-Type'], body) == (202, 'text/html; charset=utf-8',
                                                       b'<p>html</p>')
    status, headers, body = fetch(srv, 'GET', '/api/response?status=1')
    assert (status, headers['X-Extra'], body) == (203, 'yes', b'<p>html</p>')


@pytest.mark.parametrize('path', ['/api/fail', '/api/fail-async'])
def test_uncaught_exception_is_500_json_and_logged(srv, path):
    status, _, body = fetch_json(srv, 'GET', path)
    assert (status, body) == (500, {'error': 'Internal Server Error', 'status': 500})
    assert 'ERROR:GET %r failed:' % path in fetch_json(srv, 'GET', '/log')[2]


def test_http_error_keeps_its_headers(srv):
    status, headers, body = fetch_json(srv, 'GET', '/api/teapot')
    assert status == 418 and headers['X-Reason'] == 'short and stout'
    assert body['status'] == 418


def test_errors_are_json_on_the_api_routes_only(srv):
    status, headers, _ = fetch(srv, 'GET', '/plain-fail')
    assert status == 500 and headers['Content-Type'].startswith('text/plain')
    status, headers, _ = fetch(srv, 'GET', '/api/no-such-resource')
    assert status == 404 and headers['Content-Type'].startswith('text/plain')


def test_url_for_uses_the_resource_names(srv):
    assert fetch_json(srv, 'GET', '/url')[2] == {'customer': '/api/customers/7',
                                                 'events': '/api/events'}


def test_keep_alive_across_errors_and_streams(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        for _ in range(2):
            assert fetch(srv, 'GET', '/api/events', conn=conn)[0] == 200
            assert fetch(srv, 'POST', '/api/echo', b'{x', {'Content-Type': 'application/json'},
                         conn=conn)[0] == 400
            assert fetch(srv, 'GET', '/api/fail', conn=conn)[0] == 500
            assert fetch(srv, 'DELETE', '/api/readonly', conn=conn)[0] == 405
            assert fetch(srv, 'GET', '/api/customers/1', conn=conn)[0] == 200
    finally:
        conn.close()


def run_script(staged, interp, name):
    """Run ``tests/apps/<name>.py`` (not a server) and return its output."""
    done = run_apps_script(staged, interp, name, cwd=APPS)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split(' ', 1) for line in done.stdout.splitlines())


@pytest.mark.parametrize('interp', INTERPRETERS)
def test_argument_checks_name_the_argument(staged, interp):
    out = run_script(staged, interp, 'restapi_checks')
    for case in ('prefix-slash', 'prefix-relative', 'prefix-type'):
        assert out[case].startswith('ValueError RestAPI(prefix='), out
    assert out['prefix-empty'] == 'OK'
    assert out['url'].startswith('ValueError resource(url='), out
    for case in ('methods-str', 'methods-empty', 'methods-unknown', 'missing-method'):
        assert out[case].startswith('ValueError resource(methods='), out
    assert 'has no put method' in out['missing-method']
    assert out['no-methods'].startswith('ValueError resource(Empty)'), out
    assert out['not-callable'].startswith('TypeError resource(42)'), out
    assert out['function'] == 'OK'
    assert 'already installed' in out['twice']


# An app with the API serves four keep-alive clients in this heap (.mpy files). Measured
# on the 64-bit unix port: it passes at 94K, where the core's hello world passes at 71K;
# the API costs ~5.5K of heap after import and ~600 bytes more per request in flight.
API_HEAP = '100K'


@pytest.mark.micropython
def test_four_keepalive_clients_in_a_small_heap(run_app):
    app = run_app('micropython', 'restapi_small', heapsize=API_HEAP, mpy=True)

    def work(conn, index):
        for n in range(30):
            status, _, body = fetch(app, 'PUT', '/api/items/%d?n=%d' % (index, n),
                                    {'v': n}, conn=conn)
            if status != 201 or json.loads(body) != {'n': str(n), 'v': n}:
                yield (index, n, status, body[:80])
            if fetch(app, 'GET', '/api/items/99', conn=conn)[0] != 404:
                yield (index, n, '404')
            status, _, body = fetch(app, 'GET', '/api/events', conn=conn)
            if status != 200 or json.loads(body) != list(range(20)):
                yield (index, n, status, body[:80])
    failures = parallel_clients(
        work, lambda: http.client.HTTPConnection(app.host, app.port, timeout=20))
    assert failures == [], app.output()
    assert app.alive(), app.output()


def test_a_client_that_leaves_mid_body_is_not_a_500(srv):
    """A body cut short by the client closing is no fault of the API's: nothing
    is logged and the server goes on answering."""
    import socket
    import time
    before = fetch_json(srv, 'GET', '/log')[2]
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(b'POST /api/customers HTTP/1.1\r\nHost: x\r\nContent-Type: '
                     b'application/json\r\nContent-Length: 500\r\n\r\n{"id": 9, ')
        time.sleep(0.2)
    time.sleep(0.5)  # a 500 would have been logged by now
    assert fetch_json(srv, 'GET', '/log')[2] == before
    assert fetch_json(srv, 'GET', '/api/customers')[0] == 200


@pytest.mark.parametrize('name, body, expected', [
    # 500 levels of nesting (the app's max_body is 1 KB): parsed and answered
    # whole, no recursion limit met on either interpreter.
    ('deep list', b'[' * 500 + b']' * 500, 'echo'),
    ('deep object', b'{"a":' * 150 + b'1' + b'}' * 150, 'echo'),
    ('900-digit int', b'{"n": ' + b'9' * 900 + b'}', 'echo'),
    ('duplicate key', b'{"a": 1, "a": 2}', {'a': 2}),  # the last wins, as in Python
    ('NaN', b'{"n": NaN}', 400),  # not JSON (RFC 8259): CPython's json took it
    ('Infinity', b'[Infinity]', 400),
    ('-Infinity', b'[-Infinity]', 400),
    ('BOM', b'\xef\xbb\xbf{}', 400),
])
def test_hostile_json(srv, name, body, expected):
    status, _, answer = fetch_json(srv, 'POST', '/api/echo', body,
                                   {'Content-Type': 'application/json'})
    if expected == 400:
        assert (status, answer) == (400, {'error': 'invalid JSON', 'status': 400})
    else:
        assert status == 200
        assert answer['data'] == (json.loads(body) if expected == 'echo' else expected)


def test_a_number_beyond_float_range_is_infinite(srv):
    """1e999 is valid JSON whose value a float cannot hold: Python's json (both
    interpreters) makes it infinite, and the handler sees that."""
    status, _, answer = fetch_json(srv, 'POST', '/api/is-finite', b'{"n": 1e999}',
                                   {'Content-Type': 'application/json'})
    assert (status, answer) == (200, {'finite': False})
