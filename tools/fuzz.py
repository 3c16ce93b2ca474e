"""A mutation fuzzer for weblet's HTTP server, over real loopback sockets.

It takes a seed corpus of valid requests (GET with a query, HEAD, POST with a
Content-Length body, POST chunked with a trailer, pipelined pairs,
``Expect: 100-continue``, HTTP/1.0 keep-alive, a WebSocket upgrade), mutates
each one with :class:`random.Random` driven by ``(seed, index)`` (so case
``index`` of a seed is the same bytes on every run, whatever the order they
run in), and sends it on a fresh TCP connection in one of five ways (MODES):
whole, in small writes, keeping its write side open, closing its write side
early (``shutdown(SHUT_WR)`` at a cut, often mid-body), or closing the socket
at a cut (an abort, half of them with a reset). It reads until the server
closes or ``timeout`` passes and classifies the outcome:

- ``answered``: one or more final status lines came (each status is counted);
- ``closed``: the server closed without a final answer;
- ``hung``: no answer and no close within ``timeout``: an offence;
- ``kept_open``: answered, but the connection still open at ``timeout``
  (allowed by HTTP; an offence only if ``timeout`` exceeds the server's
  keep-alive, which the caller knows: tests/server/test_fuzz.py checks it);
- ``aborted``: the client closed the socket itself, nothing to read;
- ``refused``: nothing listens (the control GET that follows says the server died).

Every ``control_every`` cases, once those in flight have ended, and at the end,
a normal ``GET /`` must get 200; a refused one means the server died, and the
run stops. :func:`fuzz` returns a summary dict with the offending inputs.

What counts as an offence (a server bug):

- any 5xx answer, since every input here is the client's fault, except
  505 (the client's HTTP version) and, when ``allow_oom`` is set, a 503 for
  want of memory: a server on a small MicroPython heap (``-X heapsize``) runs
  out of it under concurrent clients with large heads, or loading a module a
  request needs, and must then answer 503 and go on serving (the control GETs
  check it). Such a 503 says ``out of memory`` (OOM_TEXTS), whether the app
  or the server's connection loop answered it. A 503 for any other reason (``too many
  connections``) is an offence: the fuzzer keeps fewer connections open than
  the server's ``max_connections``;
- bytes back that hold no status line; a hang; a failed control GET; a dead server.

It does not look at the server's log: the caller does (tests/server/test_fuzz.py
fails on a traceback). It is CPython only, a test tool; nothing of it runs on a
device. Run it against a server listening on loopback::

    python tools/fuzz.py --port 8080 --count 2000 --seed 1
    python tools/fuzz.py --show 17 --seed 1     # the bytes of case 17 of seed 1

For a server's deadlines to be told apart from a hang, give it a
``request_timeout`` and ``keepalive_timeout`` well under ``--timeout``.
"""
import argparse
import collections
import concurrent.futures
import http.client
import json
import random
import re
import socket
import struct
import sys
import time

# -- the seed corpus ------------------------------------------------------------

# Valid requests for the hello test app's routes (tests/apps/hello.py: /, /count,
# /api/led/<int:pin>, /mem); another app answers them 404 or 405, which is fine.
SEEDS = (
    ('get-query', b'GET /api/led/7?on=1&name=a%20b&x= HTTP/1.1\r\nHost: device\r\n'
                  b'User-Agent: fuzz/1\r\nAccept: */*\r\nCookie: a=1; b=2\r\n\r\n'),
    ('get-root', b'GET / HTTP/1.1\r\nHost: device:8080\r\nAccept-Encoding: gzip\r\n\r\n'),
    ('head', b'HEAD / HTTP/1.1\r\nHost: device\r\nAccept: text/html\r\n\r\n'),
    ('post-length', b'POST /count HTTP/1.1\r\nHost: device\r\n'
                    b'Content-Type: application/x-www-form-urlencoded\r\n'
                    b'Content-Length: 21\r\n\r\nname=weblet&pin=7&x=y'),
    ('post-chunked', b'POST /count HTTP/1.1\r\nHost: device\r\nTransfer-Encoding: chunked\r\n'
                     b'Trailer: X-Sum\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n'
                     b'0\r\nX-Sum: 11\r\n\r\n'),
    ('pipelined-get-post', b'GET /api/led/1 HTTP/1.1\r\nHost: device\r\n\r\n'
                           b'POST /count HTTP/1.1\r\nHost: device\r\nContent-Length: 4\r\n'
                           b'\r\nabcd'),
    ('pipelined-get-close', b'GET /mem HTTP/1.1\r\nHost: device\r\n\r\n'
                            b'GET / HTTP/1.1\r\nHost: device\r\nConnection: close\r\n\r\n'),
    ('expect-continue', b'POST /count HTTP/1.1\r\nHost: device\r\nExpect: 100-continue\r\n'
                        b'Content-Length: 10\r\n\r\n0123456789'),
    ('http10-keep-alive', b'GET / HTTP/1.0\r\nConnection: keep-alive\r\nUser-Agent: old\r\n\r\n'),
    ('websocket-upgrade', b'GET /ws HTTP/1.1\r\nHost: device\r\nUpgrade: websocket\r\n'
                          b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                          b'Sec-WebSocket-Version: 13\r\nOrigin: http://device\r\n\r\n'),
    ('put-405', b'PUT /mem HTTP/1.1\r\nHost: device\r\nContent-Length: 3\r\n\r\nabc'),
)

# -- mutators -------------------------------------------------------------------
# Each takes (rng, data) and returns new bytes; none of them fails on any input.

HEAD_END = b'\r\n\r\n'
CONTROL_BYTES = bytes(range(0, 32)) + b'\x7f' + bytes(range(0x80, 0x100, 7)) + b'\xff'


def _head_len(data):
    end = data.find(HEAD_END)
    return len(data) if end < 0 else end + 4


def _pos(rng, data, head_bias=0.7):
    """A position in ``data``, in its head ``head_bias`` of the time."""
    limit = _head_len(data) if rng.random() < head_bias else len(data)
    return rng.randint(0, limit)


def _lines(data):
    """(start, end) of each header line (without its CRLF), after the request line."""
    head = data[:_head_len(data)]
    spans = []
    pos = head.find(b'\r\n')
    while pos >= 0:
        start = pos + 2
        end = head.find(b'\r\n', start)
        if end <= start:
            break
        spans.append((start, end))
        pos = end
    return spans


def flip_bits(rng, data):
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8) if buf else 0):
        buf[min(_pos(rng, data), len(buf) - 1)] ^= 1 << rng.randrange(8)
    return bytes(buf)


def insert_bytes(rng, data):
    at = _pos(rng, data)
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return data[:at] + junk + data[at:]


def delete_range(rng, data):
    at = _pos(rng, data)
    return data[:at] + data[at + rng.randint(1, 40):]


def duplicate_range(rng, data):
    start = _pos(rng, data)
    piece = data[start:start + rng.randint(1, 64)]
    at = _pos(rng, data)
    return data[:at] + piece * rng.choice((1, 1, 2, 5, 50)) + data[at:]


def splice(rng, data):
    """The start of this request, the end of another seed."""
    other = rng.choice(SEEDS)[1]
    return data[:rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]


def swap_line_endings(rng, data):
    old, new = rng.choice(((b'\r\n', b'\n'), (b'\r\n', b'\r'), (b'\r\n', b'\r\r\n'),
                           (b'\r\n', b'\n\r'), (b'\r\n', b'\r\n\r\n'), (b'\n', b'\r\n'),
                           (b'\r\n', b'\r\n ')))
    if rng.random() < 0.3:
        return data.replace(old, new)
    spots = [m.start() for m in re.finditer(re.escape(old), data)]
    if not spots:
        return b'\r\n' * rng.randint(1, 3) + data  # empty lines before a request: allowed
    at = rng.choice(spots)
    return data[:at] + new + data[at + len(old):]


def control_bytes(rng, data):
    for _ in range(rng.randint(1, 4)):
        at = _pos(rng, data, 0.9)
        data = data[:at] + bytes([rng.choice(CONTROL_BYTES)]) + data[at:]
    return data


HUGE_NUMBERS = (b'99999999999999999999999999', b'18446744073709551616', b'9223372036854775807',
                b'4294967296', b'2147483648', b'999999999999999', b'1000000000000000',
                b'16385', b'100000000', b'9' * 300)
HUGE_CHUNKS = (b'ffffffff', b'fffffffff', b'7fffffff', b'ffffffffffffffffffff', b'100000',
               b'4001', b'FFFFFFFF', b'f' * 200)
ODD_NUMBERS = (b'-1', b'-0', b'0x10', b' 5 ', b'+5', b'5 5', b'5,5', b'05', b'', b' ', b'1e3',
               b'5\t', b'\t5', b'0000000000000000004', b'\xef\xbc\x95', b'\xd9\xa5', b'5.0',
               b'5;', b'0', b'1_0', b'4294967295', b'NaN', b'0b101')
ODD_CHUNKS = (b'-1', b'0x5', b' 5', b'5 ', b'+5', b'5;', b';5', b'', b' ', b'5\t',
              b'00000005', b'000000005', b'g', b'5;a=b;c', b'5 ;x', b'\xef\xbc\x95', b'1_0')
_LENGTH = re.compile(rb'(?i)(content-length:[ \t]*)([^\r\n]*)')
_CHUNK_LINE = re.compile(rb'\r\n([0-9a-fA-F]+)((?:;[^\r\n]*)?)\r\n')


def _set_length(rng, data, values, chunk_values):
    found = _LENGTH.search(data)
    if found and rng.random() < 0.7:
        return data[:found.start(2)] + rng.choice(values) + data[found.end(2):]
    chunks = list(_CHUNK_LINE.finditer(data, data.find(HEAD_END) + 2)) \
        if data.find(HEAD_END) >= 0 else []
    if chunks:
        hit = rng.choice(chunks)
        return data[:hit.start(1)] + rng.choice(chunk_values) + data[hit.end(1):]
    head = _head_len(data) - 2
    return data[:head] + b'Content-Length: ' + rng.choice(values) + b'\r\n' + data[head:]


def huge_length(rng, data):
    return _set_length(rng, data, HUGE_NUMBERS, HUGE_CHUNKS)


def odd_length(rng, data):
    return _set_length(rng, data, ODD_NUMBERS, ODD_CHUNKS)


def duplicate_header(rng, data):
    lines = _lines(data)
    extra = rng.choice((None, b'Content-Length: 3', b'Content-Length: 0',
                        b'Transfer-Encoding: chunked', b'Host: other', b'host: device',
                        b'Expect: 100-continue', b'Connection: close', b'Connection: keep-alive',
                        b'Content-Length: 4', b'Transfer-Encoding: identity'))
    if not lines:
        return data
    start, end = rng.choice(lines)
    line = data[start:end] if extra is None else extra
    if rng.random() < 0.3:
        line = line.upper() if rng.random() < 0.5 else line.lower()
    at = rng.choice(lines)[1] + 2
    return data[:at] + line + b'\r\n' + data[at:]


def delete_blank_line(rng, data):
    end = data.find(HEAD_END)
    if end < 0:
        return data
    return data[:end] + b'\r\n' + data[end + 4:]


def truncate(rng, data):
    return data[:rng.randint(0, max(0, len(data) - 1))]


def repeat_header(rng, data):
    lines = _lines(data)
    times = rng.choice((10, 31, 32, 33, 60, 200, 1000))
    kind = rng.randrange(3)
    if kind == 0 and lines:
        start, end = rng.choice(lines)
        block = (data[start:end] + b'\r\n') * times
    elif kind == 1:
        block = b'X-Repeat: v\r\n' * times
    else:
        block = b''.join(b'X-N-%d: %d\r\n' % (i, i) for i in range(times))
    at = _head_len(data) - 2 if data.find(HEAD_END) >= 0 else data.find(b'\r\n') + 2
    return data[:at] + block + data[at:]


# Just under, at and over max_line (2048) and max_header_bytes (4096), and far over.
LONG_SIZES = (1000, 2030, 2040, 2046, 2047, 2048, 2049, 2050, 4000, 4080, 4090, 4096, 4097,
              4100, 8200, 20000, 70000)


def long_line(rng, data):
    size = rng.choice(LONG_SIZES)
    kind = rng.randrange(6)
    line_end = data.find(b'\r\n')
    if kind == 0 and line_end > 0:  # a long target
        first = data[:line_end].split(b' ')
        if len(first) == 3:
            target = first[1] + (b'&' if b'?' in first[1] else b'?') + b'q=' + b'x' * size
            if rng.random() < 0.5:
                target = b'/' + b'a/' * (size // 2)
            return b' '.join((first[0], target, first[2])) + data[line_end:]
    if kind == 1 and line_end > 0:  # a long method
        return b'G' * size + data[data.find(b' '):]
    at = _head_len(data) - 2 if data.find(HEAD_END) >= 0 else len(data)
    if kind == 2:  # a long value
        line = b'X-Long: ' + b'v' * size
    elif kind == 3:  # a long name
        line = b'X-' + b'n' * size + b': v'
    elif kind == 4:  # many lines adding up to about size bytes
        line = b'\r\n'.join(b'X-F%d: %s' % (i, b'f' * 60) for i in range(size // 70 + 1))
    else:  # a long chunk line or extension, else a long line without any end
        hit = _CHUNK_LINE.search(data)
        if hit:
            return data[:hit.end(1)] + b';e=' + b'x' * size + data[hit.end(1):]
        return data[:at] + b'X-Endless: ' + b'e' * size
    return data[:at] + line + b'\r\n' + data[at:]


PERCENT = (b'%0d%0a', b'%0D%0AInjected:%20yes', b'%00', b'%ff', b'%', b'%2', b'%zz', b'%2f',
           b'%25', b'%c3%28', b'%e2%80%a8', b'%7f', b'%1b[31m', b'%c0%af', b'%2e%2e/',
           b'%ed%a0%80', b'%f4%90%80%80')


def percent_escapes(rng, data):
    line_end = data.find(b'\r\n')
    first = data[:line_end].split(b' ') if line_end > 0 else []
    if len(first) != 3:
        return data
    target = first[1]
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(1, len(target))
        target = target[:at] + rng.choice(PERCENT) + target[at:]
    return b' '.join((first[0], target, first[2])) + data[line_end:]


METHODS = (b'get', b'PUT', b'DELETE', b'OPTIONS', b'CONNECT', b'TRACE', b'PRI', b'PATCH',
           b'G\xc3\x89T', b'', b'GET GET', b'GE(T', b'POST', b'HEAD', b'M' * 40)
VERSIONS = (b'HTTP/1.0', b'HTTP/1.2', b'HTTP/2.0', b'HTTP/0.9', b'HTTP/1.10', b'HTTP/1',
            b'http/1.1', b'HTTP/9.9', b'', b'HTTP/1.1 ', b'HTTP/\xff.1', b'HTTP/1.1\x00')
TARGETS = (b'*', b'http://device/', b'http://[::1]:80/x?y', b'//', b'/..', b'/../../etc/passwd',
           b'/?', b'?x', b'/#frag', b'/api/led/99999999999999999999', b'/api/led/-1',
           b'/api/led/0x10', b'/api/led/' + b'9' * 2000, b'/count?', b'/mem/', b'http://',
           b'https://a@b/', b'/%', b'/\xc3\xa9')


def request_line(rng, data):
    line_end = data.find(b'\r\n')
    first = data[:line_end].split(b' ') if line_end > 0 else []
    if len(first) != 3:
        return data
    which = rng.randrange(3)
    first[which] = rng.choice((METHODS, TARGETS, VERSIONS)[which])
    return b' '.join(first) + data[line_end:]


HEADER_LINES = (b'X-A : x', b'X-A:x', b' X-A: x', b'\tfolded', b'NoColon', b': empty-name',
                b'X-A: a\tb', b'Host: a b', b'Host: a/b', b'Host: a@b', b'Host: x:99999',
                b'Host:', b'X\xc3\xa9: v', b'X-A: \xc3\xa9', b'X-A: \xff', b'Cookie: ' + b';' * 50,
                b'Connection: close, keep-alive', b'Connection: Upgrade, keep-alive',
                b'Expect: 100-Continue', b'Expect: magic', b'Content-Type: multipart/form-data',
                b'X-A: ' + b'\x80' * 10, b'Upgrade: h2c', b'Content-Length : 3')


def header_syntax(rng, data):
    lines = _lines(data)
    line = rng.choice(HEADER_LINES)
    if lines and rng.random() < 0.4:  # replace a line
        start, end = rng.choice(lines)
        return data[:start] + line + data[end:]
    at = rng.choice(lines)[1] + 2 if lines else data.find(b'\r\n') + 2
    return data[:at] + line + b'\r\n' + data[at:]


TRANSFER_CODINGS = (b'chunked, chunked', b'Chunked', b'CHUNKED', b'gzip, chunked', b'chunked;q=1',
                    b' chunked ', b'chunked\x0b', b'identity', b'xchunked', b'chunked, identity',
                    b'', b'chunk', b'\tchunked')


def transfer_encoding(rng, data):
    at = _head_len(data) - 2 if data.find(HEAD_END) >= 0 else data.find(b'\r\n') + 2
    return (data[:at] + b'Transfer-Encoding: ' + rng.choice(TRANSFER_CODINGS) + b'\r\n'
            + data[at:])


def chunk_body(rng, data):
    head = _head_len(data)
    body = rng.choice((b'5\r\nhello\r\n0\r\n\r\n', b'5\r\nhel\r\n0\r\n\r\n',
                       b'5\r\nhello world\r\n0\r\n\r\n', b'5\r\nhello0\r\n\r\n',
                       b'0\r\n\r\n', b'0\r\n', b'0\r\nNoColon\r\n\r\n',
                       b'0\r\nX: ' + b't' * 5000 + b'\r\n\r\n',
                       b'0\r\n' + b'X-T: 1\r\n' * 800 + b'\r\n',
                       b'1\r\na\r\n' * 2000 + b'0\r\n\r\n', b'5\r\nhello\r\n',
                       b'5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: smuggled\r\n\r\n',
                       b'3\r\nabc\r\n0\r\nX-T: a\x00b\r\n\r\n', b'\r\n0\r\n\r\n'))
    if b'chunked' not in data[:head].lower() and rng.random() < 0.7:
        data = transfer_encoding(rng, data)
        head = _head_len(data)
    return data[:head] + body


MUTATORS = (flip_bits, insert_bytes, delete_range, duplicate_range, splice, swap_line_endings,
            control_bytes, huge_length, odd_length, duplicate_header, delete_blank_line, truncate,
            repeat_header, long_line, percent_escapes, request_line, header_syntax,
            transfer_encoding, chunk_body)
UNMUTATED_SHARE = 0.04  # valid seeds as they are, sent in every mode
# How a case is sent (see run_case), and its share of the cases. Most close their
# write side once sent, so that the server's answer and close come at once; a
# case that keeps it open waits for the server's deadlines (request_timeout,
# keepalive_timeout), which is what makes a run slow.
MODES = (('whole', 55), ('split', 15), ('open', 8), ('early_eof', 12), ('abort', 10))
MAX_INPUT = 128 * 1024


class Case:
    """One fuzz input: ``index``, ``seed_name``, ``mutators`` (their names), ``data``
    (the bytes), ``mode`` (MODES), ``cut`` (bytes sent before an early end),
    ``pieces`` (write sizes when split) and ``reset`` (an abort with RST)."""

    def __init__(self, index, seed_name, mutators, data, mode, cut, pieces, reset):
        self.index = index
        self.seed_name = seed_name
        self.mutators = mutators
        self.data = data
        self.mode = mode
        self.cut = cut
        self.pieces = pieces
        self.reset = reset

    def describe(self, limit=300):
        """A short dict for reports: enough to regenerate it (``make_case(seed, index)``)
        and to read the bytes' start."""
        return {'index': self.index, 'seed_request': self.seed_name,
                'mutators': self.mutators, 'mode': self.mode, 'cut': self.cut,
                'length': len(self.data), 'input': repr(self.data[:limit])
                + ('...' if len(self.data) > limit else '')}


def make_case(seed, index):
    """Case ``index`` of the run with ``seed``: the same on every run."""
    rng = random.Random(seed * 1000003 + index)
    seed_name, data = rng.choice(SEEDS)
    applied = []
    if rng.random() >= UNMUTATED_SHARE:
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            mutator = rng.choice(MUTATORS)
            data = mutator(rng, data)[:MAX_INPUT]
            applied.append(mutator.__name__)
    mode = rng.choices([m for m, _ in MODES], [w for _, w in MODES])[0]
    cut = len(data)
    if mode in ('early_eof', 'abort') and data:
        head = _head_len(data)
        if head < len(data) and rng.random() < 0.6:  # mid-body
            cut = rng.randint(head, len(data) - 1)
        else:
            cut = rng.randint(0, len(data) - 1)
    pieces = []
    if mode == 'split':
        left = len(data)
        while left > 0 and len(pieces) < 40:
            size = min(left, rng.choice((1, 1, 2, 3, 7, 16, 100)))
            pieces.append(size)
            left -= size
        if left:
            pieces.append(left)
    return Case(index, seed_name, applied, data, mode, cut, pieces, rng.random() < 0.5)


# -- running a case ---------------------------------------------------------------

_STATUS = re.compile(rb'HTTP/1\.[01] (\d{3})[ \r]')
READ_CAP = 1 << 20  # bytes kept of an answer; more is read and dropped


class Outcome:
    """What came back for a case: ``kind`` (answered, closed, hung, kept_open, aborted,
    refused), ``statuses`` (every status line, in order), ``raw`` (the bytes)."""

    def __init__(self, kind, statuses=(), raw=b''):
        self.kind = kind
        self.statuses = list(statuses)
        self.raw = raw


def _send(sock, data, pieces):
    """Send ``data`` (in ``pieces`` if any) until the server stops taking it."""
    try:
        if not pieces:
            sock.sendall(data)
        pos = 0
        for size in pieces:
            sock.sendall(data[pos:pos + size])
            pos += size
    except OSError:  # reset or timed out: it answered early (414, 431...) and closed
        pass


def read_until_close(sock, timeout):
    """Everything the peer sends until it closes (or resets): ``(bytes, closed)``;
    ``closed`` is False if ``timeout`` seconds passed first."""
    deadline = time.monotonic() + timeout
    chunks = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b''.join(chunks), False
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return b''.join(chunks), False
        except OSError:  # reset: closed
            return b''.join(chunks), True
        if not data:
            return b''.join(chunks), True
        if size < READ_CAP:
            chunks.append(data)
            size += len(data)


def run_case(host, port, case, timeout):
    """Send ``case`` on a new connection as its mode says; its :class:`Outcome`."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return Outcome('refused')
    except OSError:  # no accept within timeout
        return Outcome('hung')
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if case.mode in ('early_eof', 'abort'):
            _send(sock, case.data[:case.cut], [])
        else:
            _send(sock, case.data, case.pieces)
        if case.mode == 'abort':
            if case.reset:  # SO_LINGER 0: close() sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            return Outcome('aborted')
        if case.mode != 'open':
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        raw, closed = read_until_close(sock, timeout)
    statuses = [int(m.group(1)) for m in _STATUS.finditer(raw)]
    final = [s for s in statuses if s >= 200]
    if final:
        kind = 'answered' if closed else 'kept_open'
    else:
        kind = 'closed' if closed else 'hung'
    return Outcome(kind, statuses, raw)


def _responses(raw):
    """Each response in ``raw`` as ``(status, bytes from its status line to the next)``."""
    found = list(_STATUS.finditer(raw))
    return [(int(m.group(1)), raw[m.start():found[i + 1].start() if i + 1 < len(found)
                                  else len(raw)]) for i, m in enumerate(found)]


# The bodies of a 503 that allow_oom accepts: the app's answer to a MemoryError
# (and the server's answer made in advance), and the bare text weblet.server's
# Server.serve answers a MemoryError met outside the application with.
OOM_BODY = b'out of memory\n'
OOM_TEXTS = (b'\r\n\r\n' + OOM_BODY,)
# The same answer to a HEAD request is its head alone, which states that body's length.
OOM_HEAD_LENGTH = b'\r\nContent-Length: %d\r\n' % len(OOM_BODY)


def is_oom_answer(text):
    """Whether ``text``, a response from its status line on, is the answer to a
    MemoryError: its body, or for a HEAD request its head's length."""
    return text.endswith(OOM_TEXTS) or (text.endswith(b'\r\n\r\n') and OOM_HEAD_LENGTH in text)


def offences(outcome, allow_oom):
    """The reasons ``outcome`` shows a server bug, as strings (empty: none)."""
    found = []
    if outcome.kind == 'hung':
        found.append('hung: no answer and no close')
    if outcome.raw and not _STATUS.match(outcome.raw):
        found.append('bytes without a status line first: %r' % outcome.raw[:80])
    for status, text in _responses(outcome.raw):
        if status < 500 or status == 505:
            continue
        if status == 503 and allow_oom and is_oom_answer(text):
            continue
        found.append('status %d: %r' % (status, text[:200]))
    return found


# -- the control request ---------------------------------------------------------

def control_get(host, port, timeout, allow_oom, grace=5.0):
    """A normal ``GET /``: ``(ok, detail)``. With ``allow_oom``, a 503 for want of
    memory (OOM_TEXTS) is asked again for ``grace`` seconds: the server may still be
    letting go of the cases' connections. ``detail`` is ``'refused'`` when nothing
    listens."""
    deadline = time.monotonic() + grace
    while True:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request('GET', '/', headers={'User-Agent': 'fuzz-control'})
            resp = conn.getresponse()
            status, body = resp.status, resp.read()
        except ConnectionRefusedError:
            return False, 'refused'
        except (OSError, http.client.HTTPException) as exc:
            return False, repr(exc)
        finally:
            conn.close()
        if status == 200:
            return True, 'status 200'
        if not (allow_oom and status == 503 and (b'\r\n\r\n' + body).endswith(OOM_TEXTS)
                and time.monotonic() < deadline):
            return False, 'status %d: %r' % (status, body[:200])
        time.sleep(0.1)


# -- the campaign ----------------------------------------------------------------

def fuzz(host, port, count, seed, timeout=6.0, workers=4, control_every=200, allow_oom=False,
         max_offenders=40, seconds=None):
    """Send ``count`` mutated requests (cases ``0..count-1`` of ``seed``) to
    ``host:port``, ``workers`` at a time, with a control ``GET /`` every
    ``control_every`` cases and at the end; returns the summary dict.

    :param timeout: seconds a case waits for the server to answer or close;
        longer than its request and keep-alive timeouts.
    :param workers: connections at once: fewer than the server's ``max_connections``.
    :param allow_oom: a 503 for want of memory (OOM_TEXTS) is no offence (a small heap).
    :param max_offenders: the most offending inputs kept (all are counted).
    :param seconds: stop starting new cases after this long (``None``: no limit).

    The summary: ``statuses`` (every status line seen, by code), ``outcomes``
    (answered, closed, hung, kept_open, aborted, refused), ``modes``, ``oom_503``
    (503 answers for want of memory, allowed or not),
    ``offences`` (how many) and ``offence_kinds`` (how many of each),
    ``controls`` and ``control_failures``, ``server_dead``, ``sent``, ``elapsed``,
    ``stopped_early`` and ``offenders`` (dicts: ``kind``, ``detail`` and the case,
    see :meth:`Case.describe`).
    """
    started = time.monotonic()
    summary = {'seed': seed, 'count': count, 'sent': 0, 'statuses': collections.Counter(),
               'outcomes': collections.Counter(), 'modes': collections.Counter(),
               'offences': 0, 'offence_kinds': collections.Counter(), 'controls': 0,
               'oom_503': 0, 'control_failures': 0, 'server_dead': False, 'elapsed': 0.0,
               'stopped_early': False, 'offenders': []}

    def offend(kind, detail, case=None):
        summary['offences'] += 1
        summary['offence_kinds'][kind] += 1
        if len(summary['offenders']) < max_offenders:
            entry = {'kind': kind, 'detail': detail}
            if case is not None:
                entry.update(case.describe())
            summary['offenders'].append(entry)

    def control(batch):
        summary['controls'] += 1
        ok, detail = control_get(host, port, max(timeout, 10), allow_oom)
        if ok:
            return True
        summary['control_failures'] += 1
        if detail == 'refused':
            summary['server_dead'] = True
            offend('dead server', 'GET / refused after cases %d..%d; the last ones sent:'
                   % (batch[0].index, batch[-1].index))
            for case in batch[-min(len(batch), 5):]:  # context, not offences themselves
                if len(summary['offenders']) < max_offenders:
                    summary['offenders'].append(dict(case.describe(), kind='sent before death'))
            return False
        offend('control GET failed', '%s, after cases %d..%d'
               % (detail, batch[0].index, batch[-1].index))
        return True

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for first in range(0, count, control_every):
            if seconds is not None and time.monotonic() - started > seconds:
                summary['stopped_early'] = True
                break
            batch = [make_case(seed, index)
                     for index in range(first, min(count, first + control_every))]
            outcomes = pool.map(lambda case: run_case(host, port, case, timeout), batch)
            for case, outcome in zip(batch, outcomes):
                summary['sent'] += 1
                summary['modes'][case.mode] += 1
                summary['outcomes'][outcome.kind] += 1
                summary['statuses'].update(outcome.statuses)
                summary['oom_503'] += sum(1 for status, text in _responses(outcome.raw)
                                          if status == 503 and text.endswith(OOM_TEXTS))
                for reason in offences(outcome, allow_oom):
                    offend(reason.split(':')[0], reason, case)
            if not control(batch):
                break
    summary['elapsed'] = round(time.monotonic() - started, 1)
    for key in ('statuses', 'outcomes', 'modes', 'offence_kinds'):
        summary[key] = dict(sorted(summary[key].items()))
    return summary


def format_summary(summary):
    """The summary as a few readable lines (the offenders last, one a line)."""
    lines = ['fuzz: seed %(seed)s, %(sent)s of %(count)s cases in %(elapsed)ss' % summary
             + (' (stopped at the time limit)' if summary['stopped_early'] else ''),
             '  statuses: %s' % ', '.join('%s x%d' % item for item in summary['statuses'].items()),
             '  outcomes: %s' % ', '.join('%s %d' % item for item in summary['outcomes'].items()),
             '  modes:    %s' % ', '.join('%s %d' % item for item in summary['modes'].items()),
             '  503 for want of memory: %(oom_503)d; controls: %(controls)d, failed '
             '%(control_failures)d; server dead: %(server_dead)s; offences: %(offences)d'
             % summary
             + ''.join(' (%s %d)' % item for item in summary['offence_kinds'].items())]
    for entry in summary['offenders']:
        lines.append('  OFFENCE ' + json.dumps(entry))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1', help="the server's address (127.0.0.1)")
    parser.add_argument('--port', type=int, help='the server to fuzz (required unless --show)')
    parser.add_argument('--count', type=int, default=1000, help='cases to send (1000)')
    parser.add_argument('--seed', type=int, default=0, help='the run to make (0)')
    parser.add_argument('--timeout', type=float, default=6.0,
                        help="seconds to wait for an answer or a close (6): more than the "
                             "server's request_timeout and keepalive_timeout")
    parser.add_argument('--workers', type=int, default=4,
                        help="connections at once (4), fewer than the server's max_connections")
    parser.add_argument('--control-every', type=int, default=200,
                        help='a control GET / after every this many cases (200)')
    parser.add_argument('--seconds', type=float, help='stop starting cases after this long')
    parser.add_argument('--allow-oom', action='store_true',
                        help='a 503 for want of memory is no offence (a small MicroPython heap)')
    parser.add_argument('--json', action='store_true', help='print the summary as JSON')
    parser.add_argument('--show', type=int, metavar='INDEX',
                        help='print case INDEX of --seed (its bytes, mode, mutators) and exit')
    args = parser.parse_args(argv)
    if args.show is not None:
        case = make_case(args.seed, args.show)
        print(json.dumps(case.describe(limit=len(case.data)), indent=1))
        return 0
    if args.port is None:
        parser.error('--port is required')
    summary = fuzz(args.host, args.port, args.count, args.seed, args.timeout, args.workers,
                   args.control_every, args.allow_oom, seconds=args.seconds)
    print(json.dumps(summary, indent=1) if args.json else format_summary(summary))
    return 1 if summary['offences'] else 0  # a hang, a dead server... each is one


if __name__ == '__main__':
    sys.exit(main())
