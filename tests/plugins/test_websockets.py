"""weblet-websockets over real sockets on both interpreters (app: tests/apps/websockets_app.py).

Clients: the ``websockets`` package (its sync client) for what a real client
does, and a raw-socket client (``RawWebSocket`` below) for frames no
well-behaved client sends. The Autobahn conformance run is in
tests/test_websockets_conformance.py, the browser in
tests/test_websockets_browser.py.
"""
import base64
import contextlib
import hashlib
import http.client
import json
import os
import socket
import struct
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import (served, INTERPRETERS, get_json, recv_until_close, run_apps_script, start_app,
                      status_of)

websockets = pytest.importorskip(
    'websockets', reason='the websockets client is not installed (pip install websockets)')
from websockets.sync.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

KEY = 'dGhlIHNhbXBsZSBub25jZQ=='  # RFC 6455 section 1.3
ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='


srv = served('websockets_app')


def ws_url(srv, path):
    return 'ws://%s:%d%s' % (srv.host, srv.port, path)


def open_ws(srv, path, **kwargs):
    kwargs.setdefault('open_timeout', 10)
    kwargs.setdefault('close_timeout', 5)
    kwargs.setdefault('max_size', None)
    return connect(ws_url(srv, path), **kwargs)


def events(srv):
    return get_json(srv, '/events')


def wait_for_event(srv, predicate, timeout=10):
    """Poll /events until ``predicate(data)`` holds (the server logs after the close)."""
    deadline = time.monotonic() + timeout
    while True:
        data = events(srv)
        if predicate(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.02)


def upgrade_request(path='/echo', key=KEY, version='13', extra=(), method='GET',
                    http='HTTP/1.1', upgrade='websocket', connection='keep-alive, Upgrade',
                    host='test'):
    lines = ['%s %s %s' % (method, path, http), 'Upgrade: ' + upgrade,
             'Connection: ' + connection]
    if host is not None:
        lines.append('Host: ' + host)
    if key is not None:
        lines.append('Sec-WebSocket-Key: ' + key)
    if version is not None:
        lines.append('Sec-WebSocket-Version: ' + version)
    return ('\r\n'.join(lines + list(extra)) + '\r\n\r\n').encode()


def frame(opcode, payload=b'', fin=True, masked=True, rsv=0, length=None):
    """A client frame as bytes; ``length`` forces the '7', '16' or '64'-bit length form."""
    n = len(payload)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    mask_bit = 0x80 if masked else 0
    form = length or ('7' if n < 126 else '16' if n < 65536 else '64')
    if form == '7':
        head = struct.pack('!BB', first, mask_bit | n)
    elif form == '16':
        head = struct.pack('!BBH', first, mask_bit | 126, n)
    else:
        head = struct.pack('!BBQ', first, mask_bit | 127, n)
    if masked:
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


class RawWebSocket:
    """A minimal client over a raw socket: sends any frame, reads frames one by one."""

    def __init__(self, srv, path='/echo', extra=(), first=b'', rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((srv.host, srv.port))
        self.sock.sendall(upgrade_request(path, extra=extra) + first)
        self.buf = b''
        while b'\r\n\r\n' not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        self.head = head.decode()
        assert status_of(head) == 101, self.head

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError('server closed the connection')
        self.buf += data

    def _take(self, size):
        while len(self.buf) < size:
            self._more()
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def send_frame(self, opcode, payload=b'', fin=True, masked=True, rsv=0, length=None):
        """One frame; ``length`` forces the 7/16/64-bit length form ('7', '16', '64')."""
        self.sock.sendall(frame(opcode, payload, fin, masked, rsv, length))

    def recv_frame(self):
        """``(fin, opcode, payload)`` of the next frame (server frames are unmasked)."""
        b0, b1 = self._take(2)
        assert not b1 & 0x80, 'server frames must not be masked'
        n = b1 & 127
        if n == 126:
            n = struct.unpack('!H', self._take(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', self._take(8))[0]
        return bool(b0 & 0x80), b0 & 15, self._take(n)

    def recv_close(self):
        """Skip to the close frame; returns ``(code, reason)``."""
        while True:
            fin, opcode, payload = self.recv_frame()
            if opcode == 8:
                if not payload:
                    return None, ''
                return struct.unpack('!H', payload[:2])[0], payload[2:].decode()

    def close(self, code=1000):
        self.send_frame(8, struct.pack('!H', code))

    def expect_eof(self, timeout=10):
        """The server closes the TCP connection (after any frames already in flight)."""
        recv_until_close(self.sock, timeout)

    def shut(self):
        self.sock.close()


# -- the handshake ---------------------------------------------------------------

def test_handshake_answers_101_with_the_rfc_accept_value(srv):
    ws = RawWebSocket(srv)
    headers = ws.head.lower()
    assert 'sec-websocket-accept: %s' % ACCEPT.lower() in headers
    assert 'upgrade: websocket' in headers and 'connection: upgrade' in headers
    assert 'sec-websocket-protocol' not in headers
    ws.close()
    assert ws.recv_close() == (1000, '')
    ws.expect_eof()


@pytest.mark.parametrize('request_bytes, status', [
    (upgrade_request(version=None), 400),
    (upgrade_request(key=None), 400),
    (upgrade_request(key='c2hvcnQ='), 400),                    # decodes to 5 bytes
    (upgrade_request(key='!!!!!!!!!!!!!!!!!!!!!!=='), 400),   # not base64
    (b'GET /echo HTTP/1.1\r\nHost: t\r\nSec-WebSocket-Key: ' + KEY.encode()
     + b'\r\nSec-WebSocket-Version: 13\r\n\r\n', 400),         # no Upgrade
    (upgrade_request(method='HEAD'), 400),
    (upgrade_request(method='POST'), 405),
    (upgrade_request(path='/origin', extra=['Origin: http://evil.example']), 403),
])
def test_bad_handshakes_are_refused(srv, request_bytes, status):
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        raw = sock.recv(65536)
    assert status_of(raw) == status, raw


def handshake_status(srv, request_bytes):
    """The status of the answer to ``request_bytes`` (the socket is closed after it)."""
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        raw = b''
        while b'\r\n' not in raw:
            data = sock.recv(65536)
            if not data:
                break
            raw += data
    return status_of(raw)


# Upgrade and Connection are token lists: whole tokens, any case, among others.
@pytest.mark.parametrize('request_bytes, status', [
    (upgrade_request(upgrade='websocketx'), 400),
    (upgrade_request(upgrade='xwebsocket'), 400),
    (upgrade_request(upgrade='websocket/13'), 400),
    (upgrade_request(connection='notupgradeable'), 400),
    (upgrade_request(connection='keep-alive, upgraded'), 400),
    (upgrade_request(connection='keep-alive'), 400),
    (upgrade_request(http='HTTP/1.0'), 400),
    (upgrade_request(http='HTTP/1.0', host=None), 400),
    (upgrade_request(connection='Upgrade'), 101),
    (upgrade_request(connection='keep-alive, Upgrade'), 101),
    (upgrade_request(connection='keep-alive,upgrade'), 101),
    (upgrade_request(connection='UPGRADE'), 101),
    (upgrade_request(connection='keep-alive', extra=['Connection: upgrade']), 101),  # repeated
    (upgrade_request(upgrade='websocket, foo'), 101),
    (upgrade_request(upgrade='foo/2, WebSocket'), 101),
])
def test_upgrade_and_connection_are_matched_as_tokens(srv, request_bytes, status):
    assert handshake_status(srv, request_bytes) == status


def test_http_1_0_upgrade_is_refused_with_the_real_client_shape(srv):
    """The RawWebSocket handshake, only over HTTP/1.0: 400, and the connection is closed."""
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(upgrade_request(http='HTTP/1.0', connection='Upgrade'))
        raw = recv_until_close(sock, 10)
    assert status_of(raw) == 400, raw


# With origins unset, a page may connect only from the server's own origin.
@pytest.mark.parametrize('origin, host, status', [
    (None, 'test', 101),                          # not a browser
    ('http://test', 'test', 101),
    ('HTTP://Test', 'TEST', 101),                 # case-insensitive
    ('http://test', 'test:80', 101),              # default ports
    ('http://test:80', 'test', 101),
    ('https://test', 'test:443', 101),
    ('https://test:443', 'test', 101),
    ('http://test:8080', 'test:8080', 101),
    ('http://192.168.4.1:8080', '192.168.4.1:8080', 101),
    ('http://[::1]:8080', '[::1]:8080', 101),
    ('http://[::1]', '[::1]', 101),
    ('http://evil.example', 'test', 403),         # cross-site
    ('http://test.evil.example', 'test', 403),
    ('http://test:8080', 'test', 403),            # another port
    ('http://test', 'test:8080', 403),
    ('https://test', 'test:80', 403),
    ('http://test', 'test:443', 403),
    ('http://[::1]:8080', '[::1]', 403),
    ('null', 'test', 403),                        # sandboxed page, file://
    ('file://test', 'test', 403),
    ('test', 'test', 403),
    ('', 'test', 403),
])
def test_default_origin_check_is_same_origin(srv, origin, host, status):
    extra = [] if origin is None else ['Origin: ' + origin]
    assert handshake_status(srv, upgrade_request(host=host, extra=extra)) == status


@pytest.mark.parametrize('path, origin, status', [
    ('/origin', 'http://good.example', 101),
    ('/origin', None, 101),                       # None is in its list
    ('/origin', 'http://evil.example', 403),
    ('/origin', 'http://test', 403),              # a list replaces the same-origin rule
    ('/origin-strict', None, 403),                # a list without None
    ('/origin-strict', 'http://good.example', 101),
    ('/any-origin', 'http://evil.example', 101),  # origins='*': no check
    ('/any-origin', 'null', 101),
    ('/any-origin', None, 101),
    ('/callbacks', 'http://evil.example', 403),   # the plugin class has the same default
    ('/callbacks', 'http://test', 101),
])
def test_configured_origins(srv, path, origin, status):
    extra = [] if origin is None else ['Origin: ' + origin]
    assert handshake_status(srv, upgrade_request(path=path, extra=extra)) == status


def test_origin_check_with_the_websockets_client(srv):
    own = 'http://%s:%d' % (srv.host, srv.port)  # the client's Host header is host:port
    with open_ws(srv, '/echo', origin=own) as ws:
        ws.send('same origin')
        assert ws.recv(timeout=10) == 'same origin'
    with pytest.raises(InvalidStatus) as refused:
        open_ws(srv, '/echo', origin='http://evil.example')
    assert refused.value.response.status_code == 403
    with open_ws(srv, '/any-origin', origin='http://evil.example') as ws:
        ws.send('anyone')
        assert ws.recv(timeout=10) == 'anyone'


def test_wrong_version_is_426_naming_version_13(srv):
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(upgrade_request(version='8'))
        raw = sock.recv(65536)
    assert status_of(raw) == 426
    assert b'sec-websocket-version: 13' in raw.lower()


def test_origin_allow_list(srv):
    for extra in (['Origin: http://good.example'], []):  # the list holds None: no Origin is fine
        ws = RawWebSocket(srv, '/origin', extra=extra)
        ws.send_frame(1, b'hi')
        assert ws.recv_frame() == (True, 1, b'hi')
        ws.shut()


def test_subprotocol_negotiation(srv):
    with open_ws(srv, '/echo', subprotocols=['chat-v1', 'chat-v2']) as ws:
        assert ws.subprotocol == 'chat-v2'  # the server's preference wins
    with open_ws(srv, '/echo', subprotocols=['chat-v1']) as ws:
        assert ws.subprotocol == 'chat-v1'
    with open_ws(srv, '/echo') as ws:
        assert ws.subprotocol is None
    ws = RawWebSocket(srv, '/echo', extra=['Sec-WebSocket-Protocol: other, another'])
    assert 'sec-websocket-protocol' not in ws.head.lower()
    ws.shut()


def test_frames_sent_with_the_handshake_are_read(srv):
    ws = RawWebSocket(srv, first=b'\x81\x82\x00\x00\x00\x00ok')  # masked "ok", zero mask
    assert ws.recv_frame() == (True, 1, b'ok')
    ws.shut()


def test_route_parameters_and_request(srv):
    with open_ws(srv, '/info/kitchen?q=7') as ws:
        assert json.loads(ws.recv(timeout=10)) == {
            'name': 'kitchen', 'path': '/info/kitchen', 'q': '7', 'protocol': None,
            'closed': False}


# -- messages ---------------------------------------------------------------------

@pytest.mark.releases
@pytest.mark.parametrize('size', [0, 1, 125, 126, 65535, 65536, 70000])
def test_echo_text_and_binary_of_every_length_form(srv, size):
    text = 'é' * (size // 4) + 'x' * (size - size // 4 * 2)  # ``size`` bytes of UTF-8
    assert len(text.encode()) == size
    with open_ws(srv, '/echo') as ws:
        ws.send(text)
        assert ws.recv(timeout=20) == text
        data = os.urandom(size)
        ws.send(data)
        assert ws.recv(timeout=20) == data


def test_non_minimal_length_forms_are_accepted(srv):
    ws = RawWebSocket(srv)
    ws.send_frame(1, b'seven', length='16')
    assert ws.recv_frame() == (True, 1, b'seven')
    ws.send_frame(2, b'\x00\xff', length='64')
    assert ws.recv_frame() == (True, 2, b'\x00\xff')
    ws.shut()


def test_fragments_with_a_ping_in_between_and_utf8_split_across_them(srv):
    ws = RawWebSocket(srv)
    euro = '€'.encode()
    ws.send_frame(1, b'a' + euro[:1], fin=False)
    ws.send_frame(9, b'between')
    ws.send_frame(0, euro[1:2], fin=False)
    ws.send_frame(0, euro[2:] + b'z', fin=True)
    assert ws.recv_frame() == (True, 10, b'between')
    assert ws.recv_frame() == (True, 1, 'a€z'.encode())
    ws.shut()


@pytest.mark.parametrize('frames, code', [
    ([(1, b'hi', {'masked': False})], 1002),
    ([(1, b'hi', {'rsv': 4})], 1002),
    ([(3, b'', {})], 1002),                                   # reserved data opcode
    ([(11, b'', {})], 1002),                                  # reserved control opcode
    ([(0, b'x', {})], 1002),                                  # continuation without start
    ([(1, b'x', {'fin': False}), (1, b'y', {})], 1002),      # new message inside one
    ([(9, b'x', {'fin': False})], 1002),                      # fragmented control frame
    ([(9, b'x' * 126, {})], 1002),                            # control frame too long
    ([(1, b'\xce\xba\xff', {})], 1007),
    ([(1, b'\xed\xa0\x80', {})], 1007),                       # a surrogate
    ([(1, b'\xc0\xaf', {})], 1007),                           # overlong '/'
    ([(1, b'\xf4\x90\x80\x80', {})], 1007),                   # past U+10FFFF
    ([(1, b'ok\xe2\x82', {'fin': False}), (0, b'', {})], 1007),  # ends mid-character
    ([(1, b'ok', {'fin': False}), (0, b'\x80', {})], 1007),       # bad across fragments
    ([(8, b'\x03\xe8\xff', {})], 1007),                       # close reason not UTF-8
    ([(8, b'\x03', {})], 1002),                               # close payload of 1 byte
    ([(8, struct.pack('!H', 1005), {})], 1002),               # a code never sent
])
def test_protocol_errors_close_with_the_rfc_code(srv, frames, code):
    ws = RawWebSocket(srv)
    for opcode, payload, options in frames:
        ws.send_frame(opcode, payload, **options)
    assert ws.recv_close()[0] == code
    ws.expect_eof()


# Bytes around every UTF-8 boundary: ASCII, continuation ranges, every kind of lead byte.
EDGE_BYTES = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
              0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xff]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(st.text(max_size=12).map(str.encode),
                         st.lists(st.sampled_from(EDGE_BYTES), max_size=10).map(bytes)),
       cuts=st.lists(st.integers(0, 30), max_size=3))
def test_text_is_echoed_exactly_when_python_decodes_it_strictly(srv, payload, cuts):
    """The server's UTF-8 check (incremental, across fragments) agrees with CPython's."""
    try:
        payload.decode('utf-8')
        valid = True
    except UnicodeDecodeError:
        valid = False
    bounds = [0] + sorted(min(cut, len(payload)) for cut in cuts) + [len(payload)]
    pieces = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    ws = RawWebSocket(srv)
    try:
        # One write: the server fails at the first bad byte and must not find unread
        # frames when it closes (that would reset the connection and lose its close).
        ws.sock.sendall(b''.join(frame(0 if index else 1, piece, index == len(pieces) - 1)
                                 for index, piece in enumerate(pieces)))
        if valid:
            assert ws.recv_frame() == (True, 1, payload)
        else:
            assert ws.recv_close()[0] == 1007
    finally:
        ws.shut()


def test_message_over_max_message_is_1009_before_reading_it(srv):
    ws = RawWebSocket(srv, '/small')
    ws.send_frame(1, b'x' * 16)
    assert ws.recv_frame() == (True, 1, b'x' * 16)
    ws.send_frame(2, b'x' * 10, fin=False)
    ws.sock.sendall(b'\x80\xfe\x10\x00')  # continuation of 4096 bytes: no payload follows
    assert ws.recv_close()[0] == 1009
    ws.expect_eof()


def test_ping_is_answered_with_its_payload(srv):
    ws = RawWebSocket(srv)
    ws.send_frame(9, b'are you there')
    assert ws.recv_frame() == (True, 10, b'are you there')
    ws.send_frame(10, b'unsolicited pong is ignored')
    ws.send_frame(1, b'still here')
    assert ws.recv_frame() == (True, 1, b'still here')
    ws.shut()


def test_client_ping_with_the_websockets_client(srv):
    with open_ws(srv, '/echo') as ws:
        assert ws.ping(b'x').wait(10)


# -- closing ---------------------------------------------------------------------

def test_client_close_is_echoed_and_seen_by_the_handler(srv):
    ws = RawWebSocket(srv, '/control')
    ws.send_frame(8, struct.pack('!H', 1001) + 'gone ✓'.encode())
    assert ws.recv_close() == (1001, '')
    ws.expect_eof()
    data = wait_for_event(srv, lambda d: 'control True 1001 gone ✓' in d['events'])
    assert 'control True 1001 gone ✓' in data['events']


def test_empty_close_gets_1000_and_the_handler_sees_1005(srv):
    ws = RawWebSocket(srv, '/control')
    ws.send_frame(8)
    assert ws.recv_close() == (1000, '')
    ws.expect_eof()
    assert 'control True 1005 ' in wait_for_event(
        srv, lambda d: 'control True 1005 ' in d['events'])['events']


def test_server_close_with_code_and_reason(srv):
    with open_ws(srv, '/control') as ws:
        ws.send('close')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, 'bye')
    assert 'control True 4000 bye' in wait_for_event(
        srv, lambda d: 'control True 4000 bye' in d['events'])['events']


def test_server_close_waits_for_the_answer_and_drops_late_messages(srv):
    ws = RawWebSocket(srv, '/control')
    ws.send_frame(1, b'close')
    assert ws.recv_close() == (4000, 'bye')
    ws.send_frame(1, b'late')       # after the server's close: dropped, not echoed
    ws.send_frame(9, b'late ping')  # not answered either
    ws.close(4000)
    ws.expect_eof()


def test_handler_return_closes_1000_and_exception_closes_1011(srv):
    for command, code in (('return', 1000), ('fail', 1011)):
        ws = RawWebSocket(srv, '/control')
        ws.send_frame(1, command.encode())
        assert ws.recv_close()[0] == code
        ws.close()
        ws.expect_eof()


def test_server_ping(srv):
    ws = RawWebSocket(srv, '/control')
    ws.send_frame(1, b'ping')
    assert ws.recv_frame() == (True, 9, b'hi')
    assert ws.recv_frame() == (True, 1, b'pinged')
    ws.shut()


def test_client_vanishing_ends_the_handler(srv):
    ws = RawWebSocket(srv, '/control')
    ws.send_frame(1, b'x')
    assert ws.recv_frame() == (True, 1, b'x')
    ws.shut()  # no close frame
    assert 'control True 1006 None' in wait_for_event(
        srv, lambda d: 'control True 1006 None' in d['events'])['events']


def test_ping_interval_keeps_answering_peers_and_drops_silent_ones(srv):
    alive = RawWebSocket(srv, '/heartbeat')
    silent = RawWebSocket(srv, '/heartbeat')
    for _ in range(3):  # three intervals: each ping answered keeps it open
        fin, opcode, payload = alive.recv_frame()
        assert opcode == 9
        alive.send_frame(10, payload)
    alive.send_frame(1, b'still open')
    frame = alive.recv_frame()
    while frame[1] == 9:
        frame = alive.recv_frame()
    assert frame == (True, 1, b'still open')
    assert silent.recv_frame()[1] == 9
    silent.expect_eof(timeout=5)  # no pong for an interval: dropped
    alive.shut()


# -- broadcasting ----------------------------------------------------------------

def test_chat_broadcast_reaches_every_member(srv):
    with contextlib.ExitStack() as stack:
        clients = []
        for index in range(3):
            ws = stack.enter_context(open_ws(srv, '/chat'))
            assert ws.recv(timeout=10) == 'joined %d' % (index + 1)
            clients.append(ws)
        for index, ws in enumerate(clients):
            ws.send('from %d' % index)
            for other in clients:
                assert other.recv(timeout=10) == 'from %d' % index
    assert wait_for_event(srv, lambda d: d['chat'] == 0)['chat'] == 0


def test_a_slow_client_is_dropped_and_never_blocks_the_others(srv):
    count, size = 3000, 4000  # 12 MB: more than the slow client's socket buffers hold (4 MB)
    slow = RawWebSocket(srv, '/live', rcvbuf=4096)
    assert slow.recv_frame() == (True, 1, b'joined')
    result = {}

    def blast():
        result.update(get_json(srv, '/blast?n=%d&size=%d' % (count, size), timeout=60))
    with open_ws(srv, '/live') as fast:
        assert fast.recv(timeout=10) == 'joined'
        thread = threading.Thread(target=blast)
        thread.start()
        try:
            for index in range(count):
                message = fast.recv(timeout=30)
                assert message.startswith('%d:' % index)
                assert len(message) == size + len(str(index)) + 1
        finally:
            thread.join(60)
    assert result == {'receivers': 1}  # the slow client was dropped, the fast one got all
    # Dropped means closed: what was in flight arrives, then the end of the stream.
    slow.sock.settimeout(20)
    while slow.sock.recv(1 << 20):
        pass
    assert wait_for_event(srv, lambda d: d['live'] == 0)['live'] == 0


# -- the callback plugin ---------------------------------------------------------

def test_callbacks_plugin(srv):
    with open_ws(srv, '/callbacks', subprotocols=['a', 'b']) as ws:
        assert ws.subprotocol == 'b'
        assert ws.recv(timeout=10) == 'welcome b'
        ws.send('shout')
        assert ws.recv(timeout=10) == 'SHOUT'
        ws.send(b'\x01\x02\x03')
        assert ws.recv(timeout=10) == b'\x03\x02\x01'
    assert 'callbacks 1000' in wait_for_event(
        srv, lambda d: 'callbacks 1000' in d['events'])['events']
    with open_ws(srv, '/callbacks', subprotocols=['a']) as ws:
        assert ws.subprotocol is None
        assert ws.recv(timeout=10) == 'welcome None'


def test_a_failing_callback_closes_1011_and_on_close_still_runs(srv):
    with open_ws(srv, '/callbacks') as ws:
        assert ws.recv(timeout=10) == 'welcome None'
        ws.send('boom')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1011
    assert 'callbacks 1011' in wait_for_event(
        srv, lambda d: 'callbacks 1011' in d['events'])['events']


# -- arguments ---------------------------------------------------------------------

def test_wrong_arguments_name_the_argument(staged, interp):
    out = run_apps_script(staged, interp, 'websockets_args', mpy=True).stdout
    lines = out.splitlines()
    assert lines[-1:] == ['DONE'], out
    for line in lines[:-1]:
        name, _, error = line.partition(': ')
        assert error.startswith('ValueError') and name in error, line


def test_accept_value_matches_hashlib_and_base64(srv):
    """The handshake's Sec-WebSocket-Accept for a random key, computed independently."""
    key = base64.b64encode(os.urandom(16)).decode()
    expected = base64.b64encode(hashlib.sha1(
        (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(upgrade_request(key=key))
        raw = sock.recv(65536)
    assert ('sec-websocket-accept: ' + expected).lower().encode() in raw.lower()


# -- memory ------------------------------------------------------------------------

# The issue asks for 20 idle WebSockets in a 64 KB heap. Today the core alone holds
# about 35 KB after start-up and about 2.3 KB per connection it hands to a take-over
# (the request and the server's and plugin's frames stay alive); this plugin adds
# about 0.9 KB per WebSocket and 8 KB of code. 148K passes; the test runs with a
# margin, and asserts the per-WebSocket cost so that it cannot grow unnoticed.
IDLE_HEAP = '160K'
IDLE_SOCKETS = 20
BYTES_PER_WEBSOCKET_CEILING = 3328  # about 3.05 KB measured here, with a margin
# On the 32-bit build with weblet frozen in, as a device has it: 20 pass at 56K
# and each holds about 1.5 KB (1.75 KB before the connection let its upgrade
# request's bytes go while waiting, 1.56 KB before a read waited without a
# coroutine of its own). DESIGN.md section 4 budgets 1 KB per idle WebSocket;
# these are today's figures with a margin.
FROZEN_IDLE_HEAP = '60K'
FROZEN_BYTES_PER_WEBSOCKET_CEILING = 1600


def heap_in_use(app):
    return get_json(app, '/mem')['alloc']


@pytest.mark.micropython
@pytest.mark.parametrize('build', ['mpy', 'frozen'])
def test_twenty_idle_websockets_in_a_small_micropython_heap(request, staged, build):
    if build == 'frozen':
        heapsize, ceiling = FROZEN_IDLE_HEAP, FROZEN_BYTES_PER_WEBSOCKET_CEILING
        app = start_app(staged, 'micropython', 'websockets_echo', 4096, IDLE_SOCKETS + 4,
                        heapsize=heapsize, firmware=request.getfixturevalue('frozen'))
    else:
        heapsize, ceiling = IDLE_HEAP, BYTES_PER_WEBSOCKET_CEILING
        app = start_app(staged, 'micropython', 'websockets_echo', 4096, IDLE_SOCKETS + 4,
                        heapsize=heapsize, mpy=True)
    sockets = []
    try:
        before = heap_in_use(app)
        for _ in range(IDLE_SOCKETS):
            sockets.append(RawWebSocket(app, '/'))
        per_socket = (heap_in_use(app) - before) / IDLE_SOCKETS
        print('\n%s: %d idle WebSockets in a %s heap: %d bytes of heap each'
              % (build, IDLE_SOCKETS, heapsize, per_socket))
        for index, ws in enumerate(sockets):  # every one still works
            ws.send_frame(1, b'hello %d' % index)
            assert ws.recv_frame() == (True, 1, b'hello %d' % index)
        for ws in sockets:
            ws.close()
            assert ws.recv_close() == (1000, '')
            ws.expect_eof()
        assert app.alive(), app.output()
        assert 'Error' not in app.output(), app.output()
        assert per_socket <= ceiling
    finally:
        for ws in sockets:
            ws.shut()
        app.stop()


@pytest.mark.parametrize('interp', INTERPRETERS)
def test_shutdown_closes_open_websockets_with_going_away(run_app, interp):
    app = run_app(interp, 'websockets_echo')
    with connect('ws://127.0.0.1:%d/' % app.port, open_timeout=10) as ws:
        ws.send('before')
        assert ws.recv(timeout=10) == 'before'
        trigger = http.client.HTTPConnection(app.host, app.port, timeout=10)
        trigger.request('GET', '/shutdown')
        assert trigger.getresponse().read() == b'bye'
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert app.wait_exit(10) == 0
