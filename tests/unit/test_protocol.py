"""Unit tests of weblet.protocol, the wire format: reason phrases, HTTPError,
finding and parsing a request head, the request checks and keep-alive
decision, Headers and status lines (chunked coding: test_body.py).

Response framing has its own module, test_framing.py. Portable: these tests
run on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

import weblet  # noqa: E402
from weblet.forms import parse_cookies  # noqa: E402
from weblet.protocol import (  # noqa: E402
    HTTPError, Headers, check_request, find_head, format_head, parse_head, reason,
    wants_keep_alive)


def status_of(fn, *args):
    """The status of the HTTPError that ``fn(*args)`` raises (fails if it returns)."""
    with pytest.raises(HTTPError) as info:
        fn(*args)
    return info.value.status


def crlf(*lines):
    """Lines joined, each ending in CRLF: a head as ``parse_head`` takes it."""
    return b''.join(line + b'\r\n' for line in lines)


def headers_of(*header_lines):
    return parse_head(crlf(b'GET / HTTP/1.1', *header_lines))[3]


def length_of(version, *header_lines):
    return parse_head(crlf(b'POST / HTTP/' + version, *header_lines))[4]


# -- HTTPError and reason ------------------------------------------------------

def test_http_error_carries_status_and_message():
    e = HTTPError(404, 'no such pin')
    assert (e.status, e.message) == (404, 'no such pin')
    assert str(e) == '404 no such pin'
    assert isinstance(e, Exception)
    assert e.headers is None


def test_http_error_without_message_uses_reason():
    e = HTTPError(404)
    assert e.message is None
    assert str(e) == '404 Not Found'
    assert str(HTTPError(799)) == '799 Unknown'


def test_http_error_headers_are_per_instance():
    e = HTTPError(405)
    e.headers = {'Allow': 'GET'}
    assert HTTPError(405).headers is None and HTTPError.headers is None


def test_http_error_is_exported_from_package():
    assert weblet.HTTPError is HTTPError


@pytest.mark.parametrize('status, text', [
    (100, 'Continue'), (101, 'Switching Protocols'), (200, 'OK'),
    (204, 'No Content'), (304, 'Not Modified'), (404, 'Not Found'),
    (413, 'Content Too Large'), (417, 'Expectation Failed'), (418, "I'm a teapot"),
    (431, 'Request Header Fields Too Large'),
    (500, 'Internal Server Error'), (505, 'HTTP Version Not Supported'),
])
def test_reason_known(status, text):
    assert reason(status) == text


@pytest.mark.parametrize('status', [0, 1, 20, 99, 299, 419, 599, 999, 1000, 2000, -1])
def test_reason_unknown(status):
    assert reason(status) == 'Unknown'


# -- find_head -------------------------------------------------------------------

MAX_LINE = 64
MAX_HEADER_BYTES = 128
PIPELINED = b'GET /a HTTP/1.1\r\n\r\n'


@pytest.mark.parametrize('buf, pos, expected', [
    (b'', 0, (0, -1)),
    (b'GET / HT', 0, (0, -1)),
    (b'GET / HTTP/1.1\r', 0, (0, -1)),
    (b'GET / HTTP/1.1\r\n', 0, (0, -1)),
    (b'GET / HTTP/1.1\r\nHost: x\r\n', 0, (0, -1)),
    (b'GET / HTTP/1.1\r\nHost: x\r\n\r', 0, (0, -1)),
    (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 0, (0, 23)),
    (b'GET / HTTP/1.1\r\n\r\n', 0, (0, 14)),
    (b'GET / HTTP/1.1\r\n\r\nGET /next', 0, (0, 14)),
    # empty lines before a request are skipped (RFC 9112 section 2.2)
    (b'\r\n', 0, (2, -1)),
    (b'\r\n\r', 0, (2, -1)),
    (b'\r\n\r\n\r\n', 0, (6, -1)),
    (b'\r\n\r\nGET / HTTP/1.1\r\n\r\n', 0, (4, 18)),
    # a pipelined request starts at pos
    (PIPELINED + b'GET / HTTP/1.1\r\n\r\n', len(PIPELINED), (19, 33)),
    (PIPELINED + b'\r\nGET / HT', len(PIPELINED), (21, -1)),
    (b'x' * 100 + b'GET / HTTP/1.1\r\n', 100, (100, -1)),  # limits count from pos
    # just under the limits
    (b'GET /' + b'a' * 40 + b' HTTP/1.1\r\nX: ' + b'b' * 100 + b'\r\n\r\n', 0, (0, 159)),
])
def test_find_head(buf, pos, expected):
    assert find_head(buf, pos, MAX_LINE, MAX_HEADER_BYTES) == expected


@pytest.mark.parametrize('buf, status', [
    # 414 as soon as the request line is too long, ended or not
    (b'GET /' + b'a' * 70, 414),
    (b'GET /' + b'a' * 70 + b' HTTP/1.1\r\n', 414),
    (b'GET /' + b'a' * 70 + b' HTTP/1.1\r\nHost: x\r\n\r\n', 414),
    (b'\r\n\r\n' + b'a' * 65, 414),
    # 400 for a bare LF ending the request line, or two LFs in a row
    (b'GET / HTTP/1.1\n', 400),
    (b'GET / HTTP/1.1\nHost: x\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: x\n\n', 400),
    (b'GET / HTTP/1.1\r\n\n', 400),
    # 431 as soon as the header lines are too long, ended or not
    (b'GET / HTTP/1.1\r\nX: ' + b'b' * 200, 431),
    (b'GET / HTTP/1.1\r\nX: ' + b'b' * 200 + b'\r\n\r\n', 431),
    (b'GET / HTTP/1.1\r\n' + b'X: 1\r\n' * 40, 431),
    (b'GET / HTTP/1.1\r\n' + b'X: 1\r\n' * 40 + b'\r\n', 431),
])
def test_find_head_errors(buf, status):
    assert status_of(find_head, buf, 0, MAX_LINE, MAX_HEADER_BYTES) == status


def test_find_head_errors_at_the_first_byte_past_the_limit():
    assert find_head(b'a' * MAX_LINE, 0, MAX_LINE, MAX_HEADER_BYTES) == (0, -1)
    assert status_of(find_head, b'a' * (MAX_LINE + 1), 0, MAX_LINE, MAX_HEADER_BYTES) == 414


def arrivals(head):
    """find_head's answer for each prefix of ``head``, as the bytes could arrive:
    ``(start, end)`` pairs, or the status it raised."""
    answers = []
    for size in range(1, len(head) + 1):
        try:
            answers.append(find_head(head[:size], 0, MAX_LINE, MAX_HEADER_BYTES))
        except HTTPError as exc:
            answers.append(exc.status)
    return answers


def test_find_head_takes_a_head_at_its_limits_however_it_arrives():
    line = b'GET /' + b'a' * (MAX_LINE - 14) + b' HTTP/1.1'  # exactly MAX_LINE bytes
    fields = b'X: ' + b'b' * (MAX_HEADER_BYTES - 5) + b'\r\n'  # exactly MAX_HEADER_BYTES
    assert len(line) == MAX_LINE and len(fields) == MAX_HEADER_BYTES
    head = line + b'\r\n' + fields + b'\r\n'
    answers = arrivals(head)
    assert answers[-1] == (0, len(head) - 4)
    assert answers[:-1] == [(0, -1)] * (len(head) - 1)


def test_find_head_refuses_one_byte_more_however_it_arrives():
    line = b'GET /' + b'a' * (MAX_LINE - 13) + b' HTTP/1.1'
    head = line + b'\r\nX: 1\r\n\r\n'
    answers = arrivals(head)
    assert answers[-1] == 414 and answers[:MAX_LINE] == [(0, -1)] * MAX_LINE
    fields = b'X: ' + b'b' * (MAX_HEADER_BYTES - 4) + b'\r\n'
    head = b'GET / HTTP/1.1\r\n' + fields + b'\r\n'
    answers = arrivals(head)
    assert answers[-1] == 431
    assert 431 not in answers[:16 + MAX_HEADER_BYTES]  # not before the byte past the limit


@pytest.mark.parametrize('buf, end', [
    # LF LF in a body that came in the same read as its head (a POST got 400)
    (b'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\na\n\nb', 34),
    (b'POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n\n\nGET', 34),
    # LF LF in the request pipelined after it: that head, not this one, is refused
    (PIPELINED + b'GET / HTTP/1.1\r\nHost: x\n\n', 15),
])
def test_find_head_looks_for_lf_lf_in_its_own_head_only(buf, end):
    assert find_head(buf, 0, MAX_LINE, MAX_HEADER_BYTES) == (0, end)
    if buf.startswith(PIPELINED):
        assert status_of(find_head, buf, end + 4, MAX_LINE, MAX_HEADER_BYTES) == 400


def test_find_head_then_parse_head_refuse_a_bare_lf_in_a_header_line():
    buf = b'GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n'
    with pytest.raises(HTTPError) as info:
        start, end = find_head(buf, 0, MAX_LINE, MAX_HEADER_BYTES)
        parse_head(buf[start:end + 2])
    assert info.value.status == 400


# -- parse_head: the request line ----------------------------------------------

@pytest.mark.parametrize('line, expected', [
    (b'GET / HTTP/1.1', ('GET', '/', '1.1')),
    (b'POST /a/b?x=1&y=%20 HTTP/1.0', ('POST', '/a/b?x=1&y=%20', '1.0')),
    (b'OPTIONS * HTTP/1.1', ('OPTIONS', '*', '1.1')),
    (b'GET http://example.com/p HTTP/1.1', ('GET', 'http://example.com/p', '1.1')),
    (b'PURGE /x HTTP/1.1', ('PURGE', '/x', '1.1')),
    (b"M!#$%&'*+-.^_`|~9 /x HTTP/1.1", ("M!#$%&'*+-.^_`|~9", '/x', '1.1')),
    (b'get / HTTP/1.1', ('get', '/', '1.1')),  # methods are case-sensitive tokens
    (b'GET / HTTP/1.2', ('GET', '/', '1.1')),  # later 1.x minors answer as 1.1
    (b'GET / HTTP/1.9', ('GET', '/', '1.1')),
    (b"GET /~a!$&'()*+,;=:@[]{}\"<>| HTTP/1.1", ('GET', "/~a!$&'()*+,;=:@[]{}\"<>|", '1.1')),
])
def test_request_line_ok(line, expected):
    assert parse_head(crlf(line)) == expected + ({}, None)


@pytest.mark.parametrize('data', [
    b'', b'\r\n', b'GET\r\n', b'GET /\r\n', b'/ HTTP/1.1\r\n',
    b'GET / HTTP/1.1',            # no line ending at all
    b'GET / HTTP/1.1\n',          # bare LF
    b'GET / HTTP/1.1\r',          # bare CR at the end
    b'GET / HTTP/1.1\r\r\n',      # bare CR before the CRLF
    b'GET /\r/ HTTP/1.1\r\n',     # bare CR inside the line
    b'GET /\n/ HTTP/1.1\r\n',     # bare LF inside the line
    b'GET / HTTP/1.1\n\r\n',
    b'GET  / HTTP/1.1\r\n',       # double space
    b' GET / HTTP/1.1\r\n',       # leading space
    b'GET / HTTP/1.1 \r\n',       # trailing space
    b'GET\t/\tHTTP/1.1\r\n',      # tabs are not separators
    b'GET / HTTP/1.1 extra\r\n',
    b'G(T / HTTP/1.1\r\n',        # non-token methods
    b'GET: / HTTP/1.1\r\n',
    b'G/T / HTTP/1.1\r\n',
    b'G"T / HTTP/1.1\r\n',
    b'G\xc3\x89T / HTTP/1.1\r\n',  # non-ASCII method
    b'G\x00T / HTTP/1.1\r\n',
    b'G\x7fT / HTTP/1.1\r\n',
    b'GET /caf\xc3\xa9 HTTP/1.1\r\n',  # non-ASCII target
    b'GET /\x7f HTTP/1.1\r\n',    # DEL in target
    b'GET /\x01 HTTP/1.1\r\n',    # control char in target
    b'GET /\x00 HTTP/1.1\r\n',
    b'GET  HTTP/1.1\r\nHost: x\r\n',  # empty target
    b'GET / HTTP/1.\r\n',
    b'GET / HTTP/11\r\n',
    b'GET / HTTP/1.11\r\n',
    b'GET / HTTP/1,1\r\n',
    b'GET / HTTP/1.x\r\n',
    b'GET / HTTP/x.1\r\n',
    b'GET / http/1.1\r\n',
    b'GET / HTTPS/1.1\r\n',
    b'GET / HTTP/\r\n',
    b'GET / HTTP\r\n',
    b'GET / 1.1\r\n',
    b'GET / HTTP/10.0\r\n',
    b'GET / HTTP/1.1\r\n\r\n',    # the blank line is not part of the head
])
def test_request_line_malformed_is_400(data):
    assert status_of(parse_head, data) == 400


@pytest.mark.parametrize('line', [
    b'GET / HTTP/2.0', b'GET / HTTP/3.0', b'GET / HTTP/0.9', b'GET / HTTP/9.9',
    b'PRI * HTTP/2.0',
])
def test_request_line_other_major_is_505(line):
    assert status_of(parse_head, crlf(line)) == 505
    assert status_of(parse_head, crlf(line, b'Host: x')) == 505


# -- parse_head: header lines ----------------------------------------------------

@pytest.mark.parametrize('line, expected', [
    (b'Host: example.com', {'host': 'example.com'}),
    (b'Host:example.com', {'host': 'example.com'}),
    (b'X-Empty:', {'x-empty': ''}),
    (b'X-Empty:   ', {'x-empty': ''}),
    (b'X-Pad: \t  a b \t ', {'x-pad': 'a b'}),
    (b'X-Tab: a\tb', {'x-tab': 'a\tb'}),
    (b'X-Colon: a: b:c', {'x-colon': 'a: b:c'}),
    (b'CONTENT-TYPE: text/plain', {'content-type': 'text/plain'}),
    (b"x!#$%&'*+-.^_`|~: v", {"x!#$%&'*+-.^_`|~": 'v'}),
    (b'X-Utf8: caf\xc3\xa9', {'x-utf8': 'caf\u00e9'}),
    (b'X-Punct: ~!@#$%^&*()"\\', {'x-punct': '~!@#$%^&*()"\\'}),
])
def test_header_line_ok(line, expected):
    assert headers_of(line) == expected


@pytest.mark.parametrize('data', [
    b'Host\r\n',                # no colon
    b'Host: a',                 # no line ending
    b'Host: a\n',               # bare LF
    b'Host: a\r',
    b'Host: a\rb\r\n',          # bare CR inside the value
    b'Host: a\nb\r\n',          # bare LF inside the value
    b'Host: a\r\r\n',
    b'Host: a\n\r\n',
    b'X-A: a\r\n folded\r\n',   # obs-fold continuation lines
    b'X-A: a\r\n\tfolded\r\n',
    b' X-Folded: a\r\n',
    b'Host : a\r\n',            # whitespace before the colon
    b'Host\t: a\r\n',
    b': a\r\n',                 # empty name
    b'X(Y: a\r\n',              # non-token names
    b'X Y: a\r\n',
    b'X/Y: a\r\n',
    b'X\xc3\xa9: a\r\n',        # non-ASCII name
    b'X-A: a\x00b\r\n',         # NUL in the value
    b'X-A: \x00\r\n',
    b'X-A: \xff\xfe\r\n',       # invalid UTF-8
    b'X-A: caf\xc3\r\n',        # truncated UTF-8
    b'X-A: 1\r\n\r\nX-B: 2\r\n',  # a blank line inside the head
])
def test_header_line_malformed_is_400(data):
    assert status_of(parse_head, b'GET / HTTP/1.1\r\n' + data) == 400


@pytest.mark.parametrize('value', [b'a\x01b', b'\x1b[31m', b'a\x7fb', b'\x08', b'a\x0bb',
                                   b'a\x0cb', b'a\rb', b'a\nb', b'\x00'])
def test_header_value_control_chars_are_400(value):
    """RFC 9110 5.5: NUL, CR and LF must be refused, and other controls are refused too."""
    assert status_of(parse_head, crlf(b'GET / HTTP/1.1', b'X-A: ' + value)) == 400


def test_header_value_tab_is_kept():
    assert headers_of(b'X-A: a\tb') == {'x-a': 'a\tb'}
    assert headers_of(b'X-A:\ta b\t') == {'x-a': 'a b'}


@pytest.mark.parametrize('target', [b'/a#b', b'/#', b'/p?q=1#frag', b'http://h/p#x'])
def test_a_fragment_in_the_target_is_400(target):
    assert status_of(parse_head, crlf(b'GET ' + target + b' HTTP/1.1')) == 400


@pytest.mark.parametrize('host', ['a b', 'a/b', 'user@host', 'h?x', 'h#x', 'a\tb'])
def test_a_host_that_cannot_be_one_is_400(host):
    assert status_of(check_request, '1.1', {'host': host}) == 400


@pytest.mark.parametrize('host', ['device', '127.0.0.1:8080', '[::1]:80', 'xn--bcher-kva.example',
                                  ''])
def test_a_host_and_port_pass(host):
    assert check_request('1.1', {'host': host}) is False


def test_header_repeats_joined_with_comma():
    assert headers_of(b'Accept: a', b'accept: b', b'ACCEPT: c') == {'accept': 'a, b, c'}


def test_cookie_headers_joined_with_semicolon():
    headers = headers_of(b'Cookie: a=1', b'Cookie: b=2', b'cookie: c=3')
    assert headers == {'cookie': 'a=1; b=2; c=3'}
    assert parse_cookies(headers['cookie']) == {'a': '1', 'b': '2', 'c': '3'}


def test_parsed_headers_are_lower_case_names():
    assert headers_of(b'X-Mixed-Case: 1', b'HOST: h') == {'x-mixed-case': '1', 'host': 'h'}


@pytest.mark.parametrize('lines', [
    (b'Content-Length: 5', b'Content-Length: 5'),
    (b'Content-Length: 5', b'content-length: 6'),
    (b'Host: a', b'Host: a'),
    (b'Host: a', b'X-B: 1', b'HOST: b'),
])
def test_duplicate_content_length_or_host_is_400(lines):
    assert status_of(parse_head, crlf(b'POST / HTTP/1.1', *lines)) == 400


def test_max_headers():
    lines = [b'X-%d: v' % i for i in range(5)]
    assert len(parse_head(crlf(b'GET / HTTP/1.1', *lines), 5)[3]) == 5
    assert status_of(parse_head, crlf(b'GET / HTTP/1.1', *lines), 4) == 431
    assert len(parse_head(crlf(b'GET / HTTP/1.1', *lines[:3]), 3)[3]) == 3
    many = [b'X-%d: v' % i for i in range(33)]
    assert len(parse_head(crlf(b'GET / HTTP/1.1', *many[:32]))[3]) == 32   # default 32
    assert status_of(parse_head, crlf(b'GET / HTTP/1.1', *many)) == 431


# -- parse_head: body framing ----------------------------------------------------

@pytest.mark.parametrize('lines, version, expected', [
    ((), b'1.1', None),
    ((), b'1.0', None),
    ((b'Host: x',), b'1.1', None),
    ((b'Content-Length: 0',), b'1.1', 0),
    ((b'Content-Length: 5',), b'1.1', 5),
    ((b'Content-Length: 5',), b'1.0', 5),
    ((b'Content-Length:   5  ',), b'1.1', 5),
    ((b'Content-Length: 007',), b'1.1', 7),
    ((b'Content-Length: ' + b'9' * 15,), b'1.1', 10 ** 15 - 1),
    ((b'Transfer-Encoding: chunked',), b'1.1', -1),
    ((b'Transfer-Encoding: Chunked',), b'1.1', -1),
    ((b'transfer-encoding: CHUNKED',), b'1.1', -1),
])
def test_body_framing_ok(lines, version, expected):
    assert length_of(version, *lines) == expected


@pytest.mark.parametrize('lines, version', [
    ((b'Content-Length: 5', b'Transfer-Encoding: chunked'), b'1.1'),  # both
    ((b'Transfer-Encoding: chunked', b'Content-Length: 0'), b'1.1'),
    ((b'Transfer-Encoding: chunked',), b'1.0'),           # chunked on HTTP/1.0
    ((b'Transfer-Encoding: gzip',), b'1.1'),              # TE not chunked
    ((b'Transfer-Encoding: identity',), b'1.1'),
    ((b'Transfer-Encoding: gzip, chunked',), b'1.1'),
    ((b'Transfer-Encoding: gzip', b'Transfer-Encoding: chunked'), b'1.1'),
    ((b'Transfer-Encoding: chunked', b'Transfer-Encoding: chunked'), b'1.1'),
    ((b'Transfer-Encoding: chunked;q=1',), b'1.1'),
    ((b'Transfer-Encoding: chun ked',), b'1.1'),
    ((b'Transfer-Encoding: chun\xe2\x84\xaaed',), b'1.1'),  # a Kelvin sign (CPython lowers it to k)
    ((b'Transfer-Encoding:',), b'1.1'),
    ((b'Content-Length:',), b'1.1'),
    ((b'Content-Length: abc',), b'1.1'),
    ((b'Content-Length: -1',), b'1.1'),                   # negative
    ((b'Content-Length: +5',), b'1.1'),
    ((b'Content-Length: 5.0',), b'1.1'),
    ((b'Content-Length: 0x10',), b'1.1'),
    ((b'Content-Length: 1e3',), b'1.1'),
    ((b'Content-Length: 5 5',), b'1.1'),
    ((b'Content-Length: 5, 5',), b'1.1'),
    ((b'Content-Length: 1_000',), b'1.1'),
    ((b'Content-Length: ' + b'1' * 16,), b'1.1'),         # too long
    ((b'Content-Length: ' + b'0' * 16,), b'1.1'),
    ((b'Content-Length: ' + b'9' * 100,), b'1.1'),
    # Unicode digits that str.isdigit() accepts are not a length
    ((b'Content-Length: \xc2\xb2',), b'1.1'),                   # superscript two
    ((b'Content-Length: \xd9\xa1\xd9\xa2',), b'1.1'),           # Arabic-Indic 12
    ((b'Content-Length: \xef\xbc\x95',), b'1.1'),               # fullwidth 5
    ((b'Content-Length: 1\xc2\xb9',), b'1.1'),
])
def test_body_framing_rejections_are_400(lines, version):
    assert status_of(parse_head, crlf(b'POST / HTTP/' + version, *lines)) == 400


# -- check_request ----------------------------------------------------------------

@pytest.mark.parametrize('version, headers, expected', [
    ('1.1', {'host': 'x'}, False),
    ('1.0', {}, False),                       # HTTP/1.0 needs no Host
    ('1.0', {'host': 'x'}, False),
    ('1.1', {'host': 'x', 'expect': '100-continue'}, True),
    ('1.1', {'host': 'x', 'expect': '100-Continue'}, True),
    ('1.0', {'expect': '100-continue'}, False),  # a 1.0 client does not wait
])
def test_check_request(version, headers, expected):
    assert check_request(version, headers) is expected


@pytest.mark.parametrize('version, headers, status', [
    ('1.1', {}, 400),                                        # missing Host
    ('1.1', {'expect': 'foo'}, 400),                         # Host is checked first
    ('1.1', {'host': 'x', 'expect': 'foo'}, 417),
    ('1.1', {'host': 'x', 'expect': ''}, 417),
    ('1.1', {'host': 'x', 'expect': '100-continue, foo'}, 417),
    ('1.0', {'expect': '200-ok'}, 417),
])
def test_check_request_errors(version, headers, status):
    assert status_of(check_request, version, headers) == status


# -- wants_keep_alive -------------------------------------------------------------

@pytest.mark.parametrize('version, connection, expected', [
    ('1.1', None, True),
    ('1.1', 'keep-alive', True),
    ('1.1', 'close', False),
    ('1.1', 'Close', False),
    ('1.1', 'Upgrade, close', False),
    ('1.1', 'upgrade ,CLOSE ', False),
    ('1.1', 'closed', True),              # a token, not a substring
    ('1.1', 'not-close', True),
    ('1.1', '', True),
    ('1.0', None, False),
    ('1.0', 'keep-alive', True),
    ('1.0', 'Keep-Alive', True),
    ('1.0', 'Keep-Alive, Upgrade', True),
    ('1.0', 'upgrade,keep-alive', True),
    ('1.0', 'keep-alive-ish', False),
    ('1.0', 'close', False),
    ('1.0', '', False),
    ('1.0', 'keep-alive, close', False),  # close wins (RFC 9112 section 9.3)
    ('1.0', 'Close, Keep-Alive', False),
    ('1.0', '\u212aeep-alive', False),    # a Kelvin sign, which CPython lowers to k
    ('1.1', 'keep-alive, close', False),
])
def test_wants_keep_alive(version, connection, expected):
    headers = {} if connection is None else {'connection': connection}
    assert wants_keep_alive(version, headers) is expected
    assert wants_keep_alive(version, Headers(headers)) is expected


# -- Headers --------------------------------------------------------------------

def test_headers_case_insensitive():
    h = Headers({'Content-Type': 'text/plain'})
    assert h['content-type'] == 'text/plain'
    assert 'CONTENT-TYPE' in h and 'x' not in h
    assert h.get('Content-type') == 'text/plain'
    assert h.get('missing') is None and h.get('missing', 'd') == 'd'
    h['X-Num'] = 5
    assert h['x-num'] == '5'
    assert sorted(h.items()) == [('Content-Type', 'text/plain'), ('X-Num', '5')]
    del h['x-num']
    assert 'X-Num' not in h
    with pytest.raises(KeyError):
        h['x-num']
    with pytest.raises(KeyError):
        del h['x-num']


def test_headers_keep_the_first_spelling():
    h = Headers()
    h['Content-Type'] = 'a'
    h['CONTENT-TYPE'] = 'b'
    h['content-type'] = 'c'
    assert h.items() == [('Content-Type', 'c')]


def test_headers_keep_a_lower_case_first_spelling():
    h = Headers()
    h['x-a'] = '1'
    h['X-A'] = '2'
    assert h.items() == [('x-a', '2')]


def test_headers_setdefault_and_pop():
    h = Headers()
    assert h.setdefault('Content-Type', 'a') == 'a'
    assert h.setdefault('content-type', 'b') == 'a'
    assert h.items() == [('Content-Type', 'a')]
    assert h.pop('CONTENT-TYPE') == 'a'
    assert h.pop('content-type') is None
    assert h.pop('content-type', 'd') == 'd'
    assert h.items() == []


def test_headers_iterate_lower_case_names():
    assert sorted(Headers({'X-A': '1', 'x-b': '2'})) == ['x-a', 'x-b']


@pytest.mark.parametrize('name', ['X-A: b\r\nInjected', 'X A', 'X-A:', '', 'X\x00', 'Caf\u00e9',
                                  '(x)', 'a/b'])
def test_headers_reject_a_name_that_is_not_a_token(name):
    h = Headers()
    with pytest.raises(ValueError):
        h[name] = 'v'
    with pytest.raises(ValueError):
        Headers({name: 'v'})
    assert h.items() == []


def test_every_byte_is_a_token_character_exactly_when_rfc_9110_says_so():
    """tchar (RFC 9110 section 5.6.2): ALPHA, DIGIT and !#$%&'*+-.^_`|~; the
    header-name check reads a table written out by hand."""
    tchar = b"!#$%&'*+-.^_`|~0123456789" + bytes(range(65, 91)) + bytes(range(97, 123))
    for c in range(256):
        name = chr(c)
        try:
            Headers()['a' + name] = 'v'
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == (c in tchar), (c, name)


@pytest.mark.parametrize('value', ['a\x0bb', 'a\x0cb', 'a\x00b', '\x1b[31m', 'a\x7fb', '\x08'])
def test_headers_reject_other_control_chars_in_value(value):
    with pytest.raises(ValueError):
        Headers()['X-A'] = value


def test_headers_keep_a_tab_in_a_value():
    assert Headers({'X-A': 'a\tb'})['x-a'] == 'a\tb'


@pytest.mark.parametrize('value', ['a\r\nX-Evil: 1', 'a\nb', 'a\rb', '\r\n'])
def test_headers_reject_cr_lf_in_value(value):
    h = Headers()
    with pytest.raises(ValueError):
        h['X-A'] = value
    with pytest.raises(ValueError):
        Headers({'X-A': value})
    assert 'X-A' not in h


def test_headers_parsed_uses_the_dict_it_is_given():
    values = {'content-type': 'text/plain', 'host': 'x'}
    h = Headers.parsed(values)
    assert isinstance(h, Headers)
    assert h['Content-Type'] == 'text/plain' and 'HOST' in h
    values['x-late'] = '1'
    assert h.get('X-Late') == '1'  # used, not copied
    h['X-Set'] = '2'
    assert values['x-set'] == '2'
    assert sorted(h.items()) == [('X-Set', '2'), ('content-type', 'text/plain'),
                                 ('host', 'x'), ('x-late', '1')]


def test_headers_parsed_from_parse_head():
    headers = Headers.parsed(headers_of(b'Connection: Close', b'Host: h'))
    assert headers['host'] == 'h'
    assert not wants_keep_alive('1.1', headers)


# -- format_head ----------------------------------------------------------------

def test_format_head():
    headers = Headers()
    headers['Content-Type'] = 'text/plain'
    headers['Content-Length'] = 5
    head = format_head(200, headers)
    assert head.startswith(b'HTTP/1.1 200 OK\r\n') and head.endswith(b'\r\n\r\n')
    # MicroPython's dicts keep no order
    assert sorted(head.split(b'\r\n')[1:-2]) == [b'Content-Length: 5', b'Content-Type: text/plain']


def test_format_head_cookies_and_unknown_status():
    head = format_head(599, Headers({'X-A': '1'}), ['a=1; Path=/', 'b=2'])
    assert head == (b'HTTP/1.1 599 Unknown\r\nX-A: 1\r\nSet-Cookie: a=1; Path=/\r\n'
                    b'Set-Cookie: b=2\r\n\r\n')


def test_format_head_empty_and_utf8():
    assert format_head(204, Headers()) == b'HTTP/1.1 204 No Content\r\n\r\n'
    assert format_head(200, Headers({'X-A': 'caf\u00e9'})) == (
        b'HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\r\n\r\n')
