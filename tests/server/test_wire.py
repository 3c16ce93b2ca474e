"""Connection-level behaviour over raw sockets on both interpreters: persistence,
pipelining, malformed input, limits, smuggling, deadlines and connection caps."""
import http.client
import socket
import threading
import time

import pytest

from conftest import served, INTERPRETERS, start_app, raw_exchange, recv_until_close, status_of


srv = served('basic')


def still_serving(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request('GET', '/')
    ok = conn.getresponse().read() == b'<h1>hi</h1>'
    conn.close()
    return ok


def read_response(sock_file):
    """Read one response (Content-Length framed) from a socket file; (status, headers, body)."""
    status_line = sock_file.readline()
    assert status_line.startswith(b'HTTP/1.1 '), status_line
    headers = {}
    while True:
        line = sock_file.readline()
        if line == b'\r\n':
            break
        name, _, value = line.decode().partition(':')
        headers[name.strip().lower()] = value.strip()
    body = sock_file.read(int(headers.get('content-length', 0)))
    return int(status_line.split()[1]), headers, body


@pytest.mark.releases
def test_http11_keeps_connection_open(srv):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    for _ in range(5):
        conn.request('GET', '/sync')
        resp = conn.getresponse()
        assert resp.read() == b'sync' and not resp.will_close
    conn.close()


@pytest.mark.releases
def test_http10_closes_unless_keep_alive(srv):
    raw = raw_exchange(srv, b'GET /sync HTTP/1.0\r\n\r\n')
    assert b'Connection: close' in raw and raw.endswith(b'sync')
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        f = sock.makefile('rb')
        for _ in range(2):
            sock.sendall(b'GET /sync HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            status, headers, body = read_response(f)
            assert (status, body, headers['connection']) == (200, b'sync', 'keep-alive')


@pytest.mark.releases
def test_connection_close_is_honoured(srv):
    raw = raw_exchange(srv, b'GET /sync HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    assert b'Connection: close' in raw and raw.endswith(b'sync')


@pytest.mark.releases
def test_pipelined_requests_answered_in_order(srv):
    requests = b''.join(b'GET /api/led/%d HTTP/1.1\r\nHost: t\r\n\r\n' % i for i in range(10))
    requests += b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc'
    requests += b'GET /sync HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'
    raw = raw_exchange(srv, requests)
    bodies = [part.split(b'\r\n\r\n', 1)[1] for part in raw.split(b'HTTP/1.1 200 OK')[1:]]
    assert bodies == [b'{"pin": %d}' % i for i in range(10)] + [b'abc', b'sync']


@pytest.mark.releases
def test_stray_crlf_before_request_is_ignored(srv):
    raw = raw_exchange(srv, b'\r\n\r\nGET /sync HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')
    assert status_of(raw) == 200


BAD_REQUESTS = [
    (b'GARBAGE\r\n\r\n', 400),
    (b'GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n', 400),
    (b'GET  / HTTP/1.1\r\nHost: t\r\n\r\n', 400),
    (b'G\xc3\x89T / HTTP/1.1\r\nHost: t\r\n\r\n', 400),
    (b'GET / HTTP/1.1\nHost: t\n\n', 400),
    (b'GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: t\r\nX-A : x\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n folded\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400),
    (b'GET / HTTP/1.x\r\nHost: t\r\n\r\n', 400),
    (b'GET nothing HTTP/1.1\r\nHost: t\r\n\r\n', 400),
    (b'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505),
    (b'GET / HTTP/3.0\r\nHost: t\r\n\r\n', 505),
    (b'GET / HTTP/1.1\r\nHost: t\r\nExpect: magic\r\n\r\n', 417),
    # request smuggling
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n'
     b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabc', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n', 400),
    (b'POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400),
    (b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400),
    # limits (max_line=512, max_header_bytes=1024, max_headers=16 in the app)
    (b'GET /' + b'a' * 600 + b' HTTP/1.1\r\nHost: t\r\n\r\n', 414),
    (b'GET / HTTP/1.1\r\nHost: t\r\nX-Big: ' + b'b' * 1100 + b'\r\n\r\n', 431),
    (b'GET / HTTP/1.1\r\nHost: t\r\n' + b''.join(b'X-%d: 1\r\n' % i for i in range(20))
     + b'\r\n', 431),
    (b'GET / HTTP/1.1\r\nHost: t\r\n' + b''.join(b'X-%d: %s\r\n' % (i, b'v' * 90)
                                                for i in range(12)) + b'\r\n', 431),
]


@pytest.mark.parametrize('request_bytes,expected', BAD_REQUESTS,
                         ids=[str(i) for i in range(len(BAD_REQUESTS))])
def test_bad_input_gets_status_then_close(srv, request_bytes, expected):
    raw = raw_exchange(srv, request_bytes)
    assert status_of(raw) == expected
    assert raw.count(b'HTTP/1.1 ') == 1
    assert b'Connection: close' in raw
    assert still_serving(srv)


@pytest.mark.releases
def test_endless_request_line_without_newline_is_414(srv):
    raw = raw_exchange(srv, b'GET /' + b'x' * 20000)
    assert status_of(raw) == 414


@pytest.mark.releases
def test_smuggled_second_request_is_not_served(srv):
    # With CL and TE both present the server must not treat the body as a request.
    raw = raw_exchange(srv, b'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n'
                            b'Content-Length: 40\r\n\r\n0\r\n\r\nGET /sync HTTP/1.1\r\nHost: t\r\n\r\n')
    assert status_of(raw) == 400 and b'sync' not in raw


@pytest.fixture(scope='module', params=INTERPRETERS)
def quick(request, staged):
    """The basic app with a 1 s request timeout, a 1 s keep-alive and 4 connections."""
    app = start_app(staged, request.param, 'basic', 1, 1, 4)
    yield app
    app.stop()


def test_slow_headers_get_408(quick):
    with socket.create_connection((quick.host, quick.port), timeout=10) as sock:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: t\r\n')
        started = time.monotonic()
        raw = recv_until_close(sock, 8)
    assert status_of(raw) == 408
    assert time.monotonic() - started < 5


@pytest.mark.releases
def test_silent_connection_gets_408(quick):
    with socket.create_connection((quick.host, quick.port), timeout=10) as sock:
        raw = recv_until_close(sock, 8)
    assert status_of(raw) == 408


def test_slow_body_gets_408(quick):
    with socket.create_connection((quick.host, quick.port), timeout=10) as sock:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc')
        raw = recv_until_close(sock, 8)
    assert status_of(raw) == 408


def test_idle_keepalive_connection_is_closed(quick):
    with socket.create_connection((quick.host, quick.port), timeout=10) as sock:
        sock.sendall(b'GET /sync HTTP/1.1\r\nHost: t\r\n\r\n')
        raw = recv_until_close(sock, 8)
    assert status_of(raw) == 200 and raw.count(b'HTTP/1.1') == 1


@pytest.mark.releases
def test_max_connections_wait_for_a_slot(quick):
    """Four idle keep-alive clients hold every slot; a fifth waits, then is served."""
    holders = []
    for _ in range(4):
        conn = http.client.HTTPConnection(quick.host, quick.port, timeout=10)
        conn.request('GET', '/sync')
        assert conn.getresponse().read() == b'sync'
        holders.append(conn)
    started = time.monotonic()
    assert still_serving(quick)  # waits until the idle ones time out (1 s)
    assert time.monotonic() - started < 6
    for conn in holders:
        conn.close()


@pytest.mark.releases
def test_slow_clients_do_not_starve_a_normal_client(run_app, interp):
    """Slowloris: clients trickling headers (50 on CPython with 64 slots; as many as
    the slots on MicroPython) must not stop a normal client from being served."""
    count, slots = (50, 64) if interp == 'cpython' else (4, 4)
    quick = run_app(interp, 'basic', 1, 1, slots)
    stop = threading.Event()
    socks = []
    for _ in range(count):
        sock = socket.create_connection((quick.host, quick.port), timeout=10)
        sock.sendall(b'GET / HTTP/1.1\r\n')
        socks.append(sock)

    def trickle():
        while not stop.wait(0.3):
            for sock in socks:
                try:
                    sock.sendall(b'X: y\r\n')
                except OSError:
                    pass
    feeder = threading.Thread(target=trickle)
    feeder.start()
    try:
        started = time.monotonic()
        assert still_serving(quick)
        assert time.monotonic() - started < 8
    finally:
        stop.set()
        feeder.join()
        for sock in socks:
            sock.close()
    assert still_serving(quick)


@pytest.mark.releases
def test_shutdown_finishes_in_flight_then_exits(run_app, interp):
    app = run_app(interp, 'basic')
    slow = http.client.HTTPConnection(app.host, app.port, timeout=10)
    slow.request('GET', '/slow?s=0.5')
    idle = http.client.HTTPConnection(app.host, app.port, timeout=10)
    idle.request('GET', '/sync')
    assert idle.getresponse().read() == b'sync'
    time.sleep(0.1)  # let the slow request reach its handler
    started = time.monotonic()
    trigger = http.client.HTTPConnection(app.host, app.port, timeout=10)
    trigger.request('GET', '/shutdown')
    assert trigger.getresponse().read() == b'bye'
    assert slow.getresponse().read() == b'slow done'
    assert app.wait_exit(5) == 0
    assert time.monotonic() - started < 2
    assert 'SHUTDOWN-HOOK' in app.output() and 'STOPPED' in app.output()
