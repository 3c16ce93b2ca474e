"""Black-box HTTP/1.1 tests of the core over real loopback sockets, on both interpreters."""
import http.client
import json
import socket

import pytest

from conftest import served, raw_exchange, recv_until_close, status_of  # noqa: F401

# The core's behaviour, a few seconds on MicroPython: make test runs it on the older releases too.
pytestmark = pytest.mark.releases

srv = served('basic')


def get(srv, path, method='GET', body=None, headers=None):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_str_handler_is_html(srv):
    status, headers, body = get(srv, '/')
    assert status == 200
    assert body == b'<h1>hi</h1>'
    assert headers['Content-Type'] == 'text/html; charset=utf-8'
    assert headers['Content-Length'] == str(len(body))


def test_sync_handler(srv):
    assert get(srv, '/sync')[2] == b'sync'


def test_int_param_and_json(srv):
    status, headers, body = get(srv, '/api/led/13')
    assert status == 200
    assert headers['Content-Type'] == 'application/json'
    assert json.loads(body) == {'pin': 13}
    assert get(srv, '/api/led/x1')[0] == 404


def test_path_param_tuple_with_headers(srv):
    status, headers, body = get(srv, '/files/a/b/c.txt')
    assert (status, body, headers['X-A']) == (201, b'file:a/b/c.txt', '1')
    assert get(srv, '/files/x', method='PUT', body=b'')[0] == 201


def test_param_with_literal_suffix(srv):
    assert json.loads(get(srv, '/item/lamp.json')[2]) == {'name': 'lamp'}
    assert get(srv, '/item/lamp.xml')[0] == 404


def test_url_for(srv):
    urls = json.loads(get(srv, '/url')[2])
    assert urls == {'files': '/files/a/b%20c.txt', 'led': '/api/led/3?on=yes',
                    'sub': '/api/v1/hello'}


def test_none_is_204(srv):
    status, headers, body = get(srv, '/none')
    assert status == 204 and body == b'' and 'Content-Length' not in headers


def test_tuple_status_and_bytes(srv):
    assert get(srv, '/tuple')[:1] == (201,)
    status, headers, body = get(srv, '/bytes')
    assert body == b'\x00\x01binary'
    assert headers['Content-Type'] == 'application/octet-stream'


def test_head_has_get_headers_and_no_body(srv):
    _, get_headers, get_body = get(srv, '/big')
    status, headers, body = get(srv, '/big', method='HEAD')
    assert status == 200 and body == b''
    assert headers['Content-Length'] == get_headers['Content-Length'] == str(len(get_body))


def test_head_then_get_on_one_connection(srv):
    raw = raw_exchange(srv, b'HEAD /big HTTP/1.1\r\nHost: t\r\n\r\n'
                            b'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    first, rest = raw.split(b'\r\n\r\n', 1)
    assert b'Content-Length: 5000' in first
    assert rest.startswith(b'HTTP/1.1 200 OK') and rest.endswith(b'<h1>hi</h1>')


def test_404_custom_handler_and_405_allow(srv):
    status, _, body = get(srv, '/nowhere')
    assert status == 404 and body == b'custom 404 for /nowhere'
    status, headers, _ = get(srv, '/', method='POST', body=b'')
    assert status == 405
    assert set(headers['Allow'].split(', ')) == {'GET', 'HEAD', 'OPTIONS'}


def test_options_answered_with_allow(srv):
    status, headers, body = get(srv, '/echo', method='OPTIONS')
    assert status == 204 and body == b''
    assert set(headers['Allow'].split(', ')) == {'POST', 'PUT', 'OPTIONS'}


def test_request_attributes(srv):
    status, _, body = get(srv, '/echo-request?a=1&a=2&b=x+y&c=%C3%A9',
                          headers={'Cookie': 'k=v; n="q"', 'User-Agent': 'probe'})
    data = json.loads(body)
    assert data['args'] == {'a': '1', 'b': 'x y', 'c': '\u00e9'}
    assert data['a_list'] == ['1', '2']
    assert data['cookies'] == {'k': 'v', 'n': 'q'}
    assert data['query'] == 'a=1&a=2&b=x+y&c=%C3%A9'
    assert (data['version'], data['keep_alive'], data['client_ok'], data['ua']) == \
        ('1.1', True, True, 'probe')


def test_path_is_percent_decoded(srv):
    data = json.loads(get(srv, '/item/caf%C3%A9.json')[2])
    assert data == {'name': 'caf\u00e9'}
    assert get(srv, '/item/%E9.json')[0] == 400  # not UTF-8


def test_post_content_length_body(srv):
    payload = bytes(range(256)) * 20
    status, _, body = get(srv, '/echo', method='POST', body=payload)
    assert status == 200 and body == payload


def test_post_chunked_body(srv):
    raw = raw_exchange(srv, b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n'
                            b'Connection: close\r\n\r\n'
                            b'5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n')
    assert status_of(raw) == 200
    assert raw.endswith(b'\r\n\r\nhello world')


def test_json_body_and_invalid_json(srv):
    status, _, body = get(srv, '/json', method='POST', body=b'{"a": [1, 2]}',
                          headers={'Content-Type': 'application/json'})
    assert (status, json.loads(body)) == (200, {'got': {'a': [1, 2]}})
    assert get(srv, '/json', method='POST', body=b'{nope')[0] == 400


# MicroPython before 1.26 parses these as if they were closed ('{"a": ' as {}).
@pytest.mark.parametrize('body', [b'{"a": ', b'[1, ', b'{', b'[1, [2]', b'{"a": "}"'])
def test_unfinished_json_is_400(srv, body):
    status, _, text = get(srv, '/json', method='POST', body=body,
                          headers={'Content-Type': 'application/json'})
    assert (status, text) == (400, b'invalid JSON\n')


def test_form_body_multi_valued(srv):
    status, _, body = get(srv, '/form', method='POST', body=b'x=1&x=2&name=a+b',
                          headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert json.loads(body) == {'form': {'x': '1', 'name': 'a b'}, 'x_list': ['1', '2']}


def test_body_over_max_body_is_413(srv):
    status, headers, _ = get(srv, '/echo', method='POST', body=b'x' * (16 * 1024 + 1))
    assert status == 413
    raw = raw_exchange(srv, b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n'
                            + b'4000\r\n' + b'y' * 0x4000 + b'\r\n' + b'10\r\n' + b'z' * 16
                            + b'\r\n0\r\n\r\n')
    assert status_of(raw) == 413 and b'Connection: close' in raw


def test_stream_upload_of_one_megabyte(srv):
    payload = bytes(range(256)) * 4096
    status, _, body = get(srv, '/upload', method='POST', body=payload)
    assert status == 200
    assert json.loads(body) == {'size': len(payload), 'head_sum': sum(range(16))}


def test_chunked_stream_upload(srv):
    chunks = b''.join(b'%x\r\n%s\r\n' % (n, b'a' * n) for n in (1, 700, 1500, 3))
    raw = raw_exchange(srv, b'POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n'
                            b'Connection: close\r\n\r\n' + chunks + b'0\r\n\r\n')
    assert json.loads(raw.split(b'\r\n\r\n', 1)[1])['size'] == 2204


def test_unread_body_is_drained_before_next_request(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request('POST', '/ignore-body', body=b'q' * 3000)
    resp = conn.getresponse()
    assert resp.read() == b'ignored'
    conn.request('GET', '/')
    assert conn.getresponse().read() == b'<h1>hi</h1>'
    conn.close()


def test_expect_100_continue(srv):
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n'
                     b'Expect: 100-continue\r\nConnection: close\r\n\r\n')
        interim = sock.recv(100)
        assert interim == b'HTTP/1.1 100 Continue\r\n\r\n'
        sock.sendall(b'data')
        raw = recv_until_close(sock)
    assert status_of(raw) == 200 and raw.endswith(b'\r\n\r\ndata')


def test_cookies_set_and_deleted(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request('GET', '/cookie')
    resp = conn.getresponse()
    cookies = resp.msg.get_all('Set-Cookie')
    conn.close()
    assert 'session=abc123; Max-Age=60; Path=/; HttpOnly; SameSite=Lax' in cookies
    assert any(c.startswith('old=; Max-Age=0; Expires=Thu, 01 Jan 1970') for c in cookies)


def test_redirect(srv):
    status, headers, _ = get(srv, '/redirect')
    assert status == 303 and headers['Location'] == '/target'


@pytest.mark.parametrize('path,expected', [
    ('/stream/gen', b'part0;part1;part2;part3;part4;'),
    ('/stream/agen', b'tick0;tick1;tick2;'),
    ('/stream/file', b'0123456789' * 300),
])
def test_streamed_bodies_are_chunked(srv, path, expected):
    raw = raw_exchange(srv, b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: t\r\n'
                            b'Connection: close\r\n\r\n')
    head, body = raw.split(b'\r\n\r\n', 1)
    assert b'Transfer-Encoding: chunked' in head and b'Content-Length' not in head
    assert decode_chunked(body) == expected
    status, _, plain = get(srv, path)
    assert status == 200 and plain == expected


def test_streamed_body_with_length_is_not_chunked(srv):
    status, headers, body = get(srv, '/stream/sized')
    assert (status, body, headers['Content-Length']) == (200, b'abcdef', '6')
    assert 'Transfer-Encoding' not in headers


@pytest.mark.parametrize('kind, sent', [('file', b'abcdef'), ('short', b'abcdef'),
                                         ('over', b'abc')])
def test_streamed_body_unlike_its_length_closes_the_connection(srv, kind, sent):
    """A stream that ends short of its stated Content-Length, or goes past it:
    what fits is sent, the error is logged and the connection closes (the
    client can tell), nothing past the length goes out, and others are served."""
    raw = raw_exchange(srv, b'GET /stream/wrong-length/%s HTTP/1.1\r\nHost: t\r\n\r\n'
                       % kind.encode())
    head, body = raw.split(b'\r\n\r\n', 1)
    assert status_of(raw) == 200 and body == sent
    assert srv.wait_output('streamed body of Content-Length')
    assert get(srv, '/')[0] == 200


def test_streamed_body_on_http10_closes(srv):
    raw = raw_exchange(srv, b'GET /stream/gen HTTP/1.0\r\n\r\n')
    head, body = raw.split(b'\r\n\r\n', 1)
    assert b'chunked' not in head and b'Connection: close' in head
    assert body == b'part0;part1;part2;part3;part4;'


def test_error_after_headers_closes_without_second_status(srv):
    raw = raw_exchange(srv, b'GET /stream/broken HTTP/1.1\r\nHost: t\r\n\r\n')
    assert status_of(raw) == 200
    assert raw.count(b'HTTP/1.1') == 1
    assert b'first;' in raw and not raw.endswith(b'0\r\n\r\n')
    assert get(srv, '/')[0] == 200
    assert srv.wait_output("ValueError('boom mid-stream'")  # through app.log


def test_exception_is_500_without_traceback(srv):
    status, _, body = get(srv, '/fail')
    assert status == 500 and b'exploded' not in body
    assert srv.wait_output('handler exploded')


def test_memory_error_is_503_and_server_lives(srv):
    assert get(srv, '/memory')[0] == 503
    assert get(srv, '/')[0] == 200


def test_abort_and_exception_handler(srv):
    status, _, body = get(srv, '/abort')
    assert (status, body) == (403, b'not you\n')
    status, _, body = get(srv, '/value-error')
    assert (status, json.loads(body)) == (422, {'error': 'bad value'})


def test_hooks_short_circuit_and_after(srv):
    status, headers, body = get(srv, '/', headers={'X-Block': '1'})
    assert (status, body) == (418, b'blocked by hook')
    assert get(srv, '/')[1]['X-Seen'] == 'yes'
    assert get(srv, '/nowhere')[1]['X-Seen'] == 'yes'  # after hooks see errors too
    assert get(srv, '/fail')[1]['X-Seen'] == 'yes'     # also default error answers


def test_mounted_app_and_its_hooks(srv):
    status, headers, body = get(srv, '/api/v1/hello')
    assert json.loads(body) == {'sub': True, 'path': '/api/v1/hello'}
    assert headers['X-Sub'] == '1' and headers['X-Seen'] == 'yes'
    status, headers, body = get(srv, '/not-sub')
    assert json.loads(body) == {'sub_hook_ran': False} and 'X-Sub' not in headers
    assert get(srv, '/api/v1/nothing')[0] == 404


def decode_chunked(body):
    out = b''
    while True:
        size_line, body = body.split(b'\r\n', 1)
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            return out
        out += body[:size]
        assert body[size:size + 2] == b'\r\n'
        body = body[size + 2:]


def test_custom_converter_and_url_for(srv):
    assert json.loads(get(srv, '/color/ff8000')[2]) == {'rgb': 0xff8000, 'url': '/color/ff8000'}
    assert get(srv, '/color/xyz')[0] == 404


def test_log_callable_receives_startup_and_errors(srv):
    get(srv, '/fail')
    events = json.loads(get(srv, '/events')[2])['events']
    assert events[:2] == ['startup', 'sub-startup']
    assert any(e.startswith('INFO:listening on 127.0.0.1:') for e in events)
    assert "ERROR:GET '/fail' failed:" in events


def test_debug_puts_traceback_in_500(run_app, interp):
    app = run_app(interp, 'basic', 5, 15, 8, 16384, 'debug')
    status, _, body = get(app, '/fail')
    assert status == 500
    assert b'RuntimeError' in body and b'handler exploded' in body and b'Traceback' in body


def test_options_star_and_own_options_handler(srv):
    raw = raw_exchange(srv, b'OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    assert status_of(raw) == 204
    allow = raw.split(b'Allow: ')[1].split(b'\r\n')[0].decode().split(', ')
    assert {'GET', 'POST', 'PUT', 'OPTIONS', 'HEAD'} <= set(allow)
    assert get(srv, '/with-options', method='OPTIONS')[2] == b'custom options'
    status, headers, _ = get(srv, '/with-options', method='DELETE')
    assert status == 405 and headers['Allow'].split(', ').count('OPTIONS') == 1


def test_one_item_tuple_keeps_response_status(srv):
    assert get(srv, '/one-tuple')[:1] == (418,)


def test_unsupported_return_value_is_500_before_headers(srv):
    raw = raw_exchange(srv, b'GET /bad-return HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    assert status_of(raw) == 500 and raw.count(b'HTTP/1.1') == 1


def test_cookie_attribute_injection_is_refused(srv):
    status, headers, body = get(srv, '/bad-cookie')  # the app maps ValueError to 422
    assert status == 422 and 'Injected' not in headers
    assert 'set_cookie(expires=' in json.loads(body)['error']


def test_unread_body_with_expect_continue_closes(srv):
    raw = raw_exchange(srv, b'POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n'
                            b'Expect: 100-continue\r\n\r\n')
    assert status_of(raw) == 200 and b'Connection: close' in raw
    assert b'100 Continue' not in raw
