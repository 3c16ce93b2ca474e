"""Differential test of weblet's request framing against h11, on CPython only.

Hypothesis writes streams of requests, well formed and not: request lines
(methods, targets, versions 1.0, 1.1 and others), Host, Content-Length
(valid, invalid, repeated, with leading zeros, huge), Transfer-Encoding
(chunked, other codings, lists), Connection and Expect fields, whitespace,
control characters, obs-fold and bare LFs, chunked bodies with extensions,
trailers, bad sizes and missing CRLFs, and bytes pipelined after them, all
arriving a piece at a time. weblet reads each request as its server does:
find_head over the connection's buffer, parse_head, check_request,
wants_keep_alive and a Body reading on from the same buffer. h11 reads the
same bytes as ``h11.Connection(h11.SERVER)``, and answers each request so
that it decides keep-alive its own way. For each request the two must agree:
accepted, refused or still waiting for bytes; the method, the target and the
body's bytes; where the next request starts; whether the client waits for
``100 Continue``; and whether the connection may carry another request.

Where weblet differs from h11 on purpose, DIFFERENCES says so and why. The
comparison excuses those and nothing else, and test_each_difference_is_needed
shows each one on an example. Statuses are not compared (h11 only hints at
one), but an excused refusal must carry the status the row names.
"""
import os
import re
import sys
from collections import namedtuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'core'))

h11 = pytest.importorskip('h11')

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from weblet.body import Body, read_limited  # noqa: E402
from weblet.server import Connection  # noqa: E402
from weblet.protocol import (  # noqa: E402
    HTTPError, check_request, find_head, parse_head, wants_keep_alive)

# The server's default limits (App's max_line, max_header_bytes, max_headers).
# The generated heads stay well under them, so no 414 or 431 is excused.
MAX_LINE = 2048
MAX_HEADER_BYTES = 4096
MAX_HEADERS = 32


# -- the two readers -------------------------------------------------------------------

# One request's reading: kind is 'accepted', 'refused' or 'waiting' (the bytes
# ended first); status is weblet's for a refusal and is not compared.
Outcome = namedtuple('Outcome', 'kind status method target body expect keep rest')
WAITING = Outcome('waiting', None, None, None, None, None, None, None)


def refused(status=None):
    return Outcome('refused', status, None, None, None, None, None, None)


def same(ours, theirs):
    return ours._replace(status=None) == theirs._replace(status=None)


def run(coro):
    """The result of a coroutine that never waits (its reader is in memory)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError('the coroutine waited')


class Pieces:
    """The bytes a client sent as the stream under a weblet.server.Connection:
    ``piece`` bytes at a time (at most what is asked), ``b''`` once they run out."""

    def __init__(self, data, piece):
        self.data = data
        self.piece = piece
        self.came = 0  # bytes of data that have arrived

    async def read(self, size):
        data = self.data[self.came:self.came + min(size, self.piece)]
        self.came += len(data)
        return data


def connection(data, piece):
    """A server connection (no socket, no writer) reading ``data`` in pieces."""
    return Connection(Pieces(data, piece), None, 5)


def rest(wire):
    """The bytes ``wire`` (a connection) has not read yet: where the next request starts."""
    return wire.buf[wire.pos:] + wire.stream.data[wire.stream.came:]


def weblet_reads(wire):
    """The next request on ``wire``, read as weblet.server reads it (_exchange)."""
    try:
        while True:
            wire.pos, end = find_head(wire.buf, wire.pos, MAX_LINE, MAX_HEADER_BYTES)
            if end >= 0:
                break
            run(wire._fill())
        method, target, version, headers, length = parse_head(
            wire.buf[wire.pos:end + 2], MAX_HEADERS)
        wire.pos = end + 4
        expect = check_request(version, headers)
        body = b''
        if length is not None:
            body = run(read_limited(Body(wire, length, MAX_HEADER_BYTES), None))
        # The server keeps the connection when the request wants it and its body
        # was read to the end (App.handle, Body.reusable): here it always is.
        return Outcome('accepted', None, method, target, body, expect,
                       wants_keep_alive(version, headers), rest(wire))
    except HTTPError as e:
        return refused(e.status)
    except EOFError:
        return WAITING


def h11_reads(data, piece):
    """The first request in ``data`` as an h11 server reads it, fed ``piece`` bytes
    at a time. h11 decides keep-alive when the server answers: a response
    completes the cycle, and the connection may carry another request if both
    sides are then DONE (not MUST_CLOSE). The answer is a 404 so that no CONNECT
    or Upgrade counts as a protocol switch."""
    conn = h11.Connection(h11.SERVER)
    fed = 0
    request = expect = None
    body = []
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if fed >= len(data):
                    return WAITING
                conn.receive_data(data[fed:fed + piece])
                fed += piece
            elif type(event) is h11.Request:
                request = event
                expect = conn.they_are_waiting_for_100_continue
            elif type(event) is h11.Data:
                body.append(bytes(event.data))
            elif type(event) is h11.EndOfMessage:
                break
            else:
                raise AssertionError('h11 gave %r' % (event,))
    except h11.RemoteProtocolError:
        return refused()
    conn.send(h11.Response(status_code=404, headers=[('Content-Length', '0')]))
    conn.send(h11.EndOfMessage())
    keep = conn.our_state is h11.DONE and conn.their_state is h11.DONE
    return Outcome('accepted', None, request.method.decode(), request.target.decode(),
                   b''.join(body), expect, keep, conn.trailing_data[0] + data[fed:])


# -- what a request holds --------------------------------------------------------------

HEAD_END = re.compile(rb'\n\r?\n')         # where h11 ends a head
LONE_LF = re.compile(rb'(?<!\r)\n')
REQUEST_LINE = re.compile(rb'([^ ]*) ([^ ]*) HTTP/([0-9])\.([0-9])')
CHUNK_SIZE = re.compile(rb'[ \t]*([0-9A-Fa-f]+)')
SPACE_BEFORE_EXTENSION = re.compile(rb'[0-9A-Fa-f]+([ \t]+);')
# The controls h11 lets through in a field value (it refuses NUL, CR, LF, VT
# and FF itself, as weblet does): weblet refuses all of them.
CONTROLS = re.compile(rb'[\x01-\x08\x0e-\x1f\x7f]')
NOT_IN_HOST = re.compile(rb'[ \t/?#@]')
FIELD_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:")  # a field line's name and colon


def line_end(data, pos):
    found = data.find(b'\n', pos)
    return len(data) if found < 0 else found + 1


class Seen:
    """One request's bytes (and what follows them) as a reader as lenient as h11
    sees them: the facts the rows of DIFFERENCES test. It only finds where
    things are; it decides nothing that is compared."""

    def __init__(self, data):
        self.data = data
        start = 0
        while data[start:start + 2] == b'\r\n':
            start += 2
        self.start = start
        found = HEAD_END.search(data, start)
        self.complete = found is not None
        self.head_end = found.end() if found else len(data)
        self.head = data[start:self.head_end]
        lines = [line[:-1] if line[-1:] == b'\r' else line for line in self.head.split(b'\n')]
        parts = REQUEST_LINE.fullmatch(lines[0])
        self.target = parts.group(2) if parts else b''
        self.version = (int(parts.group(3)), int(parts.group(4))) if parts else None
        self.field_lines = [line for line in lines[1:] if line]
        self.fields = [(name.lower(), value.strip(b' \t')) for name, colon, value in
                       (line.partition(b':') for line in self.field_lines) if colon]
        self.size_lines, self.trailer_lines, self.trailer_section = self._walk_chunks()

    def values(self, name):
        return [value for field, value in self.fields if field == name]

    def tokens(self, name):
        return [token.strip(b' \t') for token in b','.join(self.values(name)).lower().split(b',')]

    def _walk_chunks(self):
        """``(size lines, trailer lines, trailer section)`` of a chunked body, as
        ``(start, stop)`` spans of data, following its sizes as far as they lead."""
        data, pos = self.data, self.head_end
        sizes, trailers = [], []
        if not (self.complete and self.values(b'transfer-encoding')):
            return sizes, trailers, (pos, pos)
        while True:
            end = line_end(data, pos)
            sizes.append((pos, end))
            size = CHUNK_SIZE.match(data, pos, end)
            if size is None or data[end - 1:end] != b'\n':
                return sizes, trailers, (end, end)
            size = int(size.group(1), 16)
            pos = end
            if size == 0:
                break
            pos += size + 2  # the data and its CRLF
            if pos >= len(data):
                return sizes, trailers, (len(data), len(data))
        start = pos
        while pos < len(data):
            end = line_end(data, pos)
            if data[pos:end] in (b'\r\n', b'\n'):
                return sizes, trailers, (start, end)
            trailers.append((pos, end))
            pos = end
        return sizes, trailers, (start, pos)

    def trailer_fields(self):
        return [self.data[start:stop] for start, stop in self.trailer_lines]


# -- the differences weblet has on purpose ---------------------------------------------

class Difference:
    """One way weblet reads a request differently from h11, on purpose.

    ``applies(seen)`` says whether a request holds what the row is about. Then
    either ``allows(ours, theirs)`` says which outcomes the row excuses, or
    ``drops(seen)`` gives the spans of bytes that h11 is given the request
    without (a leniency of weblet's, checked against h11 on what it means).
    """

    def __init__(self, name, reason, applies, allows=None, drops=None):
        self.name = name
        self.reason = reason
        self.applies = applies
        self.allows = allows
        self.drops = drops

    def __repr__(self):
        return self.name


def refuses(*statuses, waits=False):
    """weblet refuses with one of ``statuses`` (or, if ``waits``, still waits for the
    head to end) whatever h11 does."""
    def allows(ours, theirs):
        return (ours.kind == 'refused' and ours.status in statuses
                or waits and ours.kind == 'waiting')
    return allows


def keeps_where_h11_closes(ours, theirs):
    return (ours.kind == theirs.kind == 'accepted' and ours.keep and not theirs.keep
            and same(ours._replace(keep=False), theirs))


def waits_where_h11_refuses(ours, theirs):
    return ours.kind == 'waiting' and theirs.kind == 'refused'


def has_bare_lf(seen):
    start, stop = seen.trailer_section
    return bool(LONE_LF.search(seen.head) or LONE_LF.search(seen.data, start, stop))


def has_obs_fold(seen):
    return any(line[:1] in (b' ', b'\t')
               for line in seen.field_lines + seen.trailer_fields())


def has_controls(seen):
    return any(CONTROLS.search(line) for line in seen.field_lines + seen.trailer_fields())


def has_value_not_utf8(seen):
    for name, value in seen.fields:
        try:
            value.decode()
        except UnicodeError:
            return True
    return False


def lacks_host_past_1_1(seen):
    return (seen.version is not None and seen.version[0] == 1 and seen.version[1] > 1
            and not seen.values(b'host'))


def has_expectation_not_100_continue(seen):
    values = seen.values(b'expect')
    return bool(values) and b', '.join(values).lower() != b'100-continue'


def has_content_length_repeated(seen):
    values = seen.values(b'content-length')
    return len(values) > 1 or any(b',' in value for value in values)


def has_long_chunk_line(seen):
    for start, stop in seen.size_lines:
        size = CHUNK_SIZE.match(seen.data, start, stop)
        if stop - start > 64 or size and len(size.group(1)) > 8:
            return True
    return False


def has_cr_in_chunk_line(seen):
    return any(b'\r' in seen.data[start:stop - 2] for start, stop in seen.size_lines)


def spaces_before_extensions(seen):
    spans = []
    for start, stop in seen.size_lines:
        found = SPACE_BEFORE_EXTENSION.match(seen.data, start, stop)
        if found:
            spans.append(found.span(1))
    return spans


def framing_trailers(seen):
    return [(start, stop) for start, stop in seen.trailer_lines
            if seen.data[start:stop].partition(b':')[0].lower()
            in (b'content-length', b'transfer-encoding')]


def starts_unfinished_with_space_or_control(seen):
    first = seen.data[seen.start:seen.start + 1]
    return not seen.complete and first != b'' and first < b'!'


def refuses_a_trailer_line_before_the_trailers_end(seen):
    """A whole trailer line that is not a field, in trailers that have not ended."""
    start, stop = seen.trailer_section
    lines = seen.trailer_lines
    unfinished = stop <= (lines[-1][1] if lines else start)
    return unfinished and any(seen.data[end - 1:end] == b'\n'
                              and not FIELD_LINE.match(seen.data, begin, end)
                              for begin, end in lines)


def is_http_1_0(seen):
    return seen.version == (1, 0)


DIFFERENCES = [
    Difference(
        'empty lines before the request line',
        'RFC 9112 section 2.2: a server SHOULD ignore at least one empty line (CRLF) '
        'received before the request line, as a client may send one after a POST body. '
        'weblet skips them; h11 refuses them ("no request line received"). h11 reads the '
        'request without them.',
        lambda seen: seen.start > 0, drops=lambda seen: [(0, seen.start)]),
    Difference(
        'a bare LF ends a line',
        'RFC 9112 section 2.2 lets a recipient take a lone LF as a line end (MAY); weblet '
        'does not, in the head or in trailers: parsers that disagree on line ends are a '
        'request-smuggling vector. h11 takes LF as CRLF. weblet answers 400, or waits for '
        'the CRLF CRLF that ends its head and answers 400 then.',
        has_bare_lf, refuses(400, waits=True)),
    Difference(
        'obs-fold',
        'RFC 9112 section 5.2: a server MUST either reject a request with obsolete line '
        'folding (400) or replace each fold with SP; weblet rejects it, h11 unfolds it.',
        has_obs_fold, refuses(400)),
    Difference(
        'a control character in a field value',
        'RFC 9110 section 5.5: a field value is VCHARs, obs-text, SP and HTAB, so no '
        'other control; weblet refuses any (400), in header and trailer fields alike. '
        'h11 refuses only NUL, CR, LF, VT and FF and lets the rest through.',
        has_controls, refuses(400)),
    Difference(
        'a field value that is not UTF-8',
        'weblet hands field values to the application as str, so a value must decode as '
        'UTF-8 (400 if not); h11 keeps bytes and accepts any obs-text (RFC 9110 section '
        '5.5). Trailers are not decoded, so not refused for this.',
        has_value_not_utf8, refuses(400)),
    Difference(
        'a fragment in the target',
        'RFC 9112 section 3.2: no form of request-target has a fragment; a client keeps '
        'it to itself. weblet refuses a target with "#" (400); h11 accepts any VCHARs.',
        lambda seen: b'#' in seen.target, refuses(400)),
    Difference(
        'an HTTP major version other than 1',
        'weblet speaks HTTP/1.x only and answers 505 (RFC 9110 section 15.6.6) to '
        'HTTP/0.9, 2.0, 3.1...; h11 accepts any DIGIT.DIGIT on a request line.',
        lambda seen: seen.version is not None and seen.version[0] != 1, refuses(505)),
    Difference(
        'no Host on HTTP/1.2 to 1.9',
        'RFC 9110 section 2.5: a later minor version is read as the highest one the '
        'recipient knows, 1.1, which MUST have a Host (400, RFC 9112 section 3.2); h11 '
        'asks for Host on exactly HTTP/1.1.',
        lacks_host_past_1_1, refuses(400)),
    Difference(
        'a Host that is more than host[:port]',
        'RFC 9112 section 3.2: a server MUST answer 400 to a Host field with an invalid '
        'value; Host is uri-host [":" port] (RFC 9110 section 7.2), so weblet refuses '
        'whitespace, "/", "?", "#" and "@" in it. h11 does not look at the value.',
        lambda seen: any(NOT_IN_HOST.search(value) for value in seen.values(b'host')),
        refuses(400)),
    Difference(
        'an expectation other than 100-continue',
        'RFC 9110 section 10.1.1: a server MAY answer 417 to an Expect it does not know, '
        'and weblet does (also to a list, or a repeated Expect); h11 ignores what it '
        'does not know.',
        has_expectation_not_100_continue, refuses(417)),
    Difference(
        'a repeated or listed Content-Length',
        'RFC 9110 section 8.6 and RFC 9112 section 6.3: a recipient MAY reject a repeated '
        'Content-Length or a list of equal values, or use the one value. weblet rejects '
        'any repeat or list, equal or not (400); h11 uses equal values.',
        has_content_length_repeated, refuses(400)),
    Difference(
        'Content-Length with Transfer-Encoding',
        'RFC 9112 section 6.1: a server MAY reject a request with both, a request-'
        'smuggling sign; weblet does (400). h11 lets Transfer-Encoding win.',
        lambda seen: bool(seen.values(b'content-length') and seen.values(b'transfer-encoding')),
        refuses(400)),
    Difference(
        'Transfer-Encoding on HTTP/1.0',
        'RFC 9112 section 6.1: a server that gets Transfer-Encoding in an HTTP/1.0 request '
        'MUST treat its framing as faulty; weblet answers 400. h11 decodes the chunks.',
        lambda seen: is_http_1_0(seen) and bool(seen.values(b'transfer-encoding')),
        refuses(400)),
    Difference(
        'a Content-Length of more than 15 digits',
        'weblet reads at most 15 digits (leading zeros count), 1 PB, far past any body '
        'it accepts; h11 takes up to 20. 400 either way a request cannot be served.',
        lambda seen: any(len(value) > 15 for value in seen.values(b'content-length')),
        refuses(400)),
    Difference(
        'a chunk-size line of more than 64 bytes, or more than 8 hex digits',
        'weblet bounds a chunk-size line (with its extensions) at 64 bytes and a chunk at '
        '8 hex digits (4 GB): RFC 9112 section 7.1.1 expects a server to limit chunk '
        'extensions, and a device reads in small pieces. h11 takes 20 digits and any '
        'extension. 400, also before the line has ended.',
        has_long_chunk_line, refuses(400)),
    Difference(
        'a CR inside a chunk-size line',
        'RFC 9112 section 7.1.1: a chunk extension is tokens and quoted-strings, so no '
        'CR; weblet refuses a CR before the line\'s CRLF (400), as it does a bare CR '
        'anywhere, a request-smuggling vector. h11 takes any byte but LF after the ";".',
        has_cr_in_chunk_line, refuses(400)),
    Difference(
        'whitespace before a chunk extension',
        'RFC 9112 section 7.1.1: chunk-ext = *( BWS ";" ... ), so "5 ;x" is valid and '
        'weblet reads it; h11 refuses it. h11 reads the body without that whitespace.',
        lambda seen: bool(spaces_before_extensions(seen)), drops=spaces_before_extensions),
    Difference(
        'Content-Length or Transfer-Encoding in trailers',
        'weblet discards trailer fields unread (RFC 9112 section 7.1.2: a recipient MAY '
        'discard them), so their values never frame anything; h11 checks these two as '
        'it does in a head and refuses bad values. h11 reads the body without them.',
        lambda seen: bool(framing_trailers(seen)), drops=framing_trailers),
    Difference(
        'HTTP/1.0 keep-alive',
        'RFC 9112 section 9.3 and appendix C.2.2: an HTTP/1.0 request with the keep-alive '
        'connection option (and no close) may keep its connection, and weblet keeps it; '
        'h11 closes every HTTP/1.0 connection.',
        lambda seen: (is_http_1_0(seen) and b'keep-alive' in seen.tokens(b'connection')
                      and b'close' not in seen.tokens(b'connection')),
        keeps_where_h11_closes),
    Difference(
        'a bad trailer line before the trailers end',
        'weblet checks each trailer line as it comes and refuses one that is not a field '
        '(400) at once; h11 reads the whole trailer section first, and refuses it once the '
        'blank line that ends it has come.',
        refuses_a_trailer_line_before_the_trailers_end,
        lambda ours, theirs: ours.kind == 'refused' and ours.status == 400
        and theirs.kind == 'waiting'),
    Difference(
        'an unfinished head that starts with a space or a control',
        'h11 refuses such bytes at once, before the head ends (a cheap early check); '
        'weblet waits for the whole head, under its size limits and timeout, then '
        'refuses it (400).',
        starts_unfinished_with_space_or_control, waits_where_h11_refuses),
]


# -- the comparison --------------------------------------------------------------------

def without(data, spans):
    for start, stop in sorted(spans, reverse=True):
        data = data[:start] + data[stop:]
    return data


def compare(data, piece, differences=DIFFERENCES, most=4):
    """Read ``data`` with both, request by request while both go on; the rows of
    ``differences`` that excused something, or ``AssertionError`` for a
    difference that none excuses."""
    wire = connection(data, piece)
    rest = data
    used = []
    for _ in range(most):
        seen = Seen(rest)
        rows = [row for row in differences if row.applies(seen)]
        spans = [span for row in rows if row.drops for span in row.drops(seen)]
        ours = weblet_reads(wire)
        theirs = h11_reads(without(rest, spans), piece)
        used.extend(row for row in rows if row.drops)
        if not same(ours, theirs):
            excusing = [row for row in rows if row.allows and row.allows(ours, theirs)]
            assert excusing, ('weblet and h11 differ, and no row of DIFFERENCES excuses it\n'
                              '  request: %r (in pieces of %d)\n  weblet:  %r\n  h11:     %r\n'
                              '  rows that apply: %r' % (rest, piece, ours, theirs, rows))
            return used + excusing
        if ours.kind != 'accepted' or not ours.keep or not ours.rest:
            return used
        rest = ours.rest
    return used


# -- requests to read ------------------------------------------------------------------

# Each part of a request is drawn from its valid forms, and also from its
# flawed ones when the request's few chosen flaws name it: most requests then
# have one or two things wrong, so that one flaw does not hide another.
# (name, valid forms, flawed forms); the first valid form is what Hypothesis
# shrinks to.
PARTS = {
    'method': ([b'GET', b'POST', b'PUT', b'HEAD', b'DELETE', b'OPTIONS', b'CONNECT',
                b'M-SEARCH', b'get', b'G#T'],
               [b'G(T', b'', b'G\x00T', b'G\xc3\xa9T', b'GET:']),
    'separator': ([b' '], [b'  ', b'\t', b'']),
    'target': ([b'/', b'/a/b?x=1&y=%20', b'*', b'http://example.com/p?q', b'example.com:443',
                b"/~a!$&'()*+,;=:@[]"],
               [b'/a#frag', b'/#', b'', b'/a b', b'/\x7f', b'/\xc3\xa9', b'/a\x01']),
    'version': ([b'HTTP/1.1', b'HTTP/1.1', b'HTTP/1.0'],
                [b'HTTP/1.2', b'HTTP/1.9', b'HTTP/2.0', b'HTTP/0.9', b'http/1.1', b'HTTP/11',
                 b'HTTP/1.', b'HTTP/1.x', b'HTTP/1.1 ']),
    'line end': ([b'\r\n'], [b'\n', b'\r', b'\r\r\n']),
    'host': ([b'example.com', b'example.com:8080', b'192.0.2.1', b'[::1]:80', b'',
              b'ex\xc3\xa4mple', None],  # None: no Host field, as HTTP/1.0 may send
             [b'a b', b'a/b', b'user@example.com', b'h?q', b'h#f', b'a\tb']),
    'connection': ([b'keep-alive', b'close', b'Close', b'KEEP-ALIVE', b'Upgrade, close',
                    b'keep-alive, close', b'close, keep-alive', b'te', b'', b'foo,  close ,bar',
                    b'closed', b'keep-alive-ish', b',keep-alive,',
                    b'\xe2\x84\xaaeep-alive'],  # a Kelvin sign, which CPython lower-cases to k
                   []),
    'expect': ([b'100-continue', b'100-Continue'], [b'100-continue, x', b'200-ok', b'']),
    'name': ([b'X-A', b'Cookie', b'Upgrade', b'User-Agent', b'accept'],
             [b'X A', b'X-A ', b'', b'X\x01', b'\xc3\xa9', b' X-A']),
    'value': ([b'1', b'a=1; b=2', b'websocket', b'', b'caf\xc3\xa9', b'a\tb', b'a  b'],
              [b'\xff', b'a\x01b', b'a\x7fb', b'a\x1fb', b'a\x00b', b'a\x0bb', b'a\rb', b'a\nb',
               b'a\r\nContent-Length: 5', b'a\r\n\r\nGET /x HTTP/1.1']),
    'space': ([b' ', b'', b'\t', b'  '], [b'\x0b', b'\r']),
    'fold': ([None], [b' folded', b'\tX-B: 1', b' ']),
    'head end': ([b'\r\n'], [b'\n']),
    'framing': (['none', 'length', 'chunked'], ['both']),
    'content-length': (['%d', '00%d', ' %d ', '%d+1', '%d-1', '0000000000000%d'],
                       ['%d, %d', '%d,%d+1', '+%d', '-1', '', '0x%x', '%d\x00', '1' * 16,
                        '9' * 15, '0' * 16 + '%d', '9' * 20, '\u0665']),
    'repeat': ([1], [2]),
    'coding': ([b'chunked', b'Chunked', b'CHUNKED'],
               [b'gzip', b'gzip, chunked', b'chunked, gzip', b'chunked, chunked', b'identity',
                b'chunked;q=1', b'', b'xchunked', b'chun\xe2\x84\xaaed', b'chunked\x0b']),
    'chunk size': (['%x', '%X', '0%x', '%x;ext=1', '%x;a="b;c"', '%x ;ext', '%x\t;e',
                    '%x+1', '%x-1'],
                   [' %x', '%x ', 'g', '', '-1', '0x%x', '1' * 9, '%020x', '%x;' + 'e' * 70,
                    '%x;\x00', '%x\r;']),
    'chunk line end': ([b'\r\n'], [b'\n', b'\r', b'\r\r\n']),
    'chunk end': ([b'\r\n'], [b'\n', b'', b'XY']),
    'last chunk': ([b'0', b'000', b'0;ext'], [b'0' * 11, b' 0', b'0 ']),
    'trailer': ([b'X-T: 1\r\n', b'Content-Length: 5\r\n', b'X-T: \xff\r\n'],
                [b'Content-Length: x\r\n', b'Transfer-Encoding: gzip\r\n', b' fold\r\n',
                 b'X-T: a\x01\r\n', b'X-T: 1\n', b'Bad Name: 1\r\n', b'NoColon\r\n',
                 b': empty\r\n', b'X-T: a\rb\r\n']),
    'trailers end': ([b'\r\n'], [b'\n', b'']),
}
LENGTH_PARTS = {'content-length'}
CHUNK_PARTS = {'coding', 'chunk size', 'chunk line end', 'chunk end', 'last chunk', 'trailer',
               'trailers end'}
STREAM_PARTS = {
    'gap': ([b''], [b'\r\n', b'\r\n\r\n', b'\n', b'\r\n\r']),
    'tail': ([b'', b'', b'GET / HT'], [b'\x00\x01', b' GET / HTTP/1.1\r\n', b'\r\n']),
    'cut': ([False], [True]),
    'piece': ([65536, 1, 3, 16], []),
}

# Bodies, with the bytes that trip parsers: line ends, blank lines, a last
# chunk, a whole request.
PAYLOADS = st.one_of(
    st.sampled_from([b'hello', b'a\n\nb', b'\r\n\r\n', b'\n', b'0\r\n\r\n',
                     b'GET / HTTP/1.1\r\nHost: x\r\n\r\n']),
    st.binary(max_size=16))


class Parts:
    """Draws the parts of a request (or a stream): valid forms, and for a part
    named in ``flaws`` a flawed form the first time, then either kind."""

    def __init__(self, draw, table, most):
        self.draw = draw
        self.table = table
        self.flaws = draw(st.lists(st.sampled_from(sorted(table)), max_size=most, unique=True))
        self.drawn = set()

    def __call__(self, name):
        valid, flawed = self.table[name]
        if name not in self.flaws or not flawed:
            return self.draw(st.sampled_from(valid))
        first = name not in self.drawn
        self.drawn.add(name)
        return self.draw(st.sampled_from(flawed if first else valid + flawed))


def formatted(form, n):
    """A size form from PARTS, such as '%x+1', for a body of ``n`` bytes."""
    shift = 1 if form.endswith('+1') else -1 if form.endswith('-1') else 0
    form = form[:-2] if shift else form
    size = max(n + shift, 0)
    return (form.replace('%d', str(size), 1).replace('%d', str(n)).replace('%x', '%x' % size)
            .replace('%X', '%X' % n).replace('%020x', '%020x' % n).encode())


@st.composite
def chunked_bodies(draw, part):
    out = []
    for data in draw(st.lists(PAYLOADS.filter(bool), max_size=3)):
        out.append(formatted(part('chunk size'), len(data)) + part('chunk line end')
                   + data + part('chunk end'))
    out.append(part('last chunk') + part('chunk line end'))
    for _ in range(draw(st.integers(0, 2))):
        out.append(part('trailer'))
    out.append(part('trailers end'))
    return b''.join(out)


@st.composite
def requests(draw):
    """One request's bytes: a request line, fields, and a body framed by
    Content-Length, by chunks, by both or by nothing."""
    part = Parts(draw, PARTS, 2)
    fields = []
    # A flawed name, value or space needs a field to be in.
    kinds = draw(st.lists(st.sampled_from(['other', 'connection', 'expect']), max_size=3))
    if {'name', 'value', 'space'} & set(part.flaws):
        kinds.append('other')
    if 'expect' in part.flaws:
        kinds.append('expect')
    for kind in kinds:
        fields.append((b'Connection', part('connection')) if kind == 'connection' else
                      (b'Expect', part('expect')) if kind == 'expect' else
                      (part('name'), part('value')))
    host = part('host')
    if host is not None:
        fields.insert(draw(st.integers(0, len(fields))), (b'Host', host))
    # A flawed framing part needs the framing it belongs to.
    framing = part('framing')
    flaws = set(part.flaws)
    if flaws & CHUNK_PARTS and (flaws & LENGTH_PARTS or framing == 'both'):
        framing = 'both'
    elif flaws & CHUNK_PARTS:
        framing = 'chunked'
    elif flaws & LENGTH_PARTS:
        framing = 'length'
    body = b''
    if framing in ('length', 'both'):
        body = draw(PAYLOADS)
        value = formatted(part('content-length'), len(body))
        for _ in range(part('repeat')):
            fields.insert(draw(st.integers(0, len(fields))),
                          (draw(st.sampled_from([b'Content-Length', b'content-length'])), value))
    if framing in ('chunked', 'both'):
        body = draw(chunked_bodies(part))
        for _ in range(part('repeat')):
            fields.insert(draw(st.integers(0, len(fields))),
                          (draw(st.sampled_from([b'Transfer-Encoding', b'transfer-encoding'])),
                           part('coding')))
    lines = [name + b':' + part('space') + value + part('space') + part('line end')
             for name, value in fields]
    fold = part('fold')
    if fold is not None:
        lines.insert(draw(st.integers(0, len(lines))), fold + b'\r\n')
    head = (part('method') + part('separator') + part('target') + part('separator')
            + part('version') + part('line end') + b''.join(lines) + part('head end'))
    return head + body


@st.composite
def streams(draw):
    """``(data, piece)``: requests one after another, perhaps with empty lines
    between them and bytes after them, perhaps cut short, arriving ``piece``
    bytes at a time."""
    part = Parts(draw, STREAM_PARTS, 2)
    data = b''
    for request in draw(st.lists(requests(), min_size=1, max_size=3)):
        data += part('gap') + request
    data += part('tail')
    if part('cut'):
        data = data[:draw(st.integers(0, len(data)))]
    return data, part('piece')


# -- the tests -------------------------------------------------------------------------

@settings(max_examples=1500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(streams())
def test_weblet_reads_requests_as_h11_does(stream):
    data, piece = stream
    compare(data, piece)


def chunked(body, version=b'1.1'):
    return (b'POST / HTTP/' + version + b'\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
            + body)


# One request that shows each row of DIFFERENCES, in its order.
SHOWN_BY = {
    'empty lines before the request line': b'\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'a bare LF ends a line': b'GET / HTTP/1.1\nHost: x\r\n\r\n',
    'obs-fold': b'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n',
    'a control character in a field value': b'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
    'a field value that is not UTF-8': b'GET / HTTP/1.1\r\nHost: x\r\nX-A: \xff\r\n\r\n',
    'a fragment in the target': b'GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n',
    'an HTTP major version other than 1': b'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
    'no Host on HTTP/1.2 to 1.9': b'GET / HTTP/1.2\r\n\r\n',
    'a Host that is more than host[:port]': b'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n',
    'an expectation other than 100-continue':
        b'GET / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n',
    'a repeated or listed Content-Length':
        b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab',
    'Content-Length with Transfer-Encoding':
        b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n'
        b'\r\n0\r\n\r\n',
    'Transfer-Encoding on HTTP/1.0': chunked(b'2\r\nab\r\n0\r\n\r\n', b'1.0'),
    'a Content-Length of more than 15 digits':
        b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0000000000000002\r\n\r\nab',
    'a chunk-size line of more than 64 bytes, or more than 8 hex digits':
        chunked(b'000000002\r\nab\r\n0\r\n\r\n'),
    'a CR inside a chunk-size line': chunked(b'2;a\rb\r\nab\r\n0\r\n\r\n'),
    'whitespace before a chunk extension': chunked(b'2 ;a\r\nab\r\n0\r\n\r\n'),
    'Content-Length or Transfer-Encoding in trailers':
        chunked(b'2\r\nab\r\n0\r\nContent-Length: x\r\n\r\n'),
    'HTTP/1.0 keep-alive': b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'a bad trailer line before the trailers end': chunked(b'0\r\nBad Name: 1\r\n'),
    'an unfinished head that starts with a space or a control': b' GET / HTTP/1.1\r\n',
}


def test_every_difference_is_shown():
    assert list(SHOWN_BY) == [row.name for row in DIFFERENCES]


@pytest.mark.parametrize('row', DIFFERENCES, ids=lambda row: row.name)
def test_each_difference_is_needed(row):
    """The row's request: without the row weblet and h11 differ, with it that
    difference is excused, by this row."""
    data = SHOWN_BY[row.name]
    assert row.applies(Seen(data))
    assert row in compare(data, 65536)
    with pytest.raises(AssertionError, match='no row of DIFFERENCES excuses it'):
        compare(data, 65536, [other for other in DIFFERENCES if other is not row])


# Requests known to split parsers (request smuggling), and the ones that showed
# weblet's bugs: weblet must read each as h11 does, or as DIFFERENCES says,
# whole and a byte at a time.
KNOWN = {
    # a body holding LF LF that came with its head: weblet refused it (400)
    'LF LF in a body': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\na\n\nb',
    'LF LF in the next head':
        b'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\n',
    # close wins over keep-alive on HTTP/1.0: weblet kept the connection
    'HTTP/1.0 keep-alive and close':
        b'GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n'
        b'GET / HTTP/1.0\r\n\r\n',
    # a Kelvin sign is not a k: on CPython weblet read these as keep-alive and chunked
    'Kelvin keep-alive': b'GET / HTTP/1.0\r\nConnection: \xe2\x84\xaaeep-alive\r\n\r\n',
    'Kelvin chunked': chunked(b'0\r\n\r\n').replace(b'chunked', b'chun\xe2\x84\xaaed'),
    # whitespace before a chunk size: weblet read ' 0' as 0
    'space before a chunk size':
        chunked(b' 0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'),
    # request-smuggling shapes
    'CL.TE': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n'
             b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nG',
    'TE.CL': b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
             b'Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
    'space before a colon':
        b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
    'xchunked': b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
    'tab before chunked':
        b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n',
    'two codings': b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n'
                   b'Transfer-Encoding: x\r\n\r\n0\r\n\r\n',
    'folded coding':
        b'POST / HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'two lengths': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                   b'Content-Length: 6\r\n\r\nhello!',
    'pipelined after a length': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n'
                                b'helloGET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'chunk longer than its size': chunked(b'5\r\nhelloXX0\r\n\r\n'),
    'request as trailers': chunked(b'5\r\nhello\r\n0\r\nGET /admin HTTP/1.1\r\n'
                                   b'Host: x\r\n\r\n'),
    'empty extension': chunked(b'5;\r\nhello\r\n0\r\n\r\n'),
    'size overflow': chunked(b'ffffffffffffffff1\r\nx\r\n0\r\n\r\n'),
    'CRLF after a chunked body':
        chunked(b'5\r\nhello\r\n0\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    'bare CR': b'GET / HTTP/1.1\r\nHost: x\r\nX: a\rContent-Length: 5\r\n\r\nhello',
    'NUL after a length': b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\x00\r\n\r\nhello',
    'NUL in the target': b'GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
}


@pytest.mark.parametrize('piece', [65536, 1])
@pytest.mark.parametrize('name', list(KNOWN))
def test_known_requests(name, piece):
    compare(KNOWN[name], piece)
