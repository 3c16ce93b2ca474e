"""Hypothesis property tests of the pure layers, on CPython only.

Whatever bytes or text a client sends, the parsers (find_head, parse_head,
parse_chunk_size, unquote, parse_query, parse_cookies) answer or raise
HTTPError with a status the server knows, and never anything else; what the
builders make (format_head, quote, encode_chunk, build_path,
response_framing's changes) parses back to what went in.
"""
import asyncio
import itertools
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'core'))

from hypothesis import given, settings, strategies as st  # noqa: E402

from weblet.body import Body, BytesReader, encode_chunk, parse_chunk_size  # noqa: E402
from weblet.escaping import quote, unquote  # noqa: E402
from weblet.forms import MultiDict, parse_cookies, parse_query  # noqa: E402
from weblet.protocol import (  # noqa: E402
    CHUNKED, LENGTH, NO_BODY, UNTIL_CLOSE, HTTPError, Headers, find_head, format_head,
    parse_head, reason, response_framing)
from weblet.setup import compile_route  # noqa: E402
from weblet.urls import build_path  # noqa: E402

from test_body import read_all  # noqa: E402  (tests/unit is on pytest's path)
from test_framing import apply_changes  # noqa: E402

PROPERTY = settings(max_examples=300, deadline=None)
TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KNOWN_STATUSES = (400, 413, 414, 431, 505)


def crlf(*lines):
    return b''.join(line + b'\r\n' for line in lines)


def only_http_errors(fn, *args):
    try:
        return fn(*args)
    except HTTPError as e:
        assert e.status in KNOWN_STATUSES
        return e


# -- parse_head and find_head -----------------------------------------------------------

def check_head(data, max_headers=32):
    result = only_http_errors(parse_head, data, max_headers)
    if isinstance(result, HTTPError):
        return result
    method, target, version, headers, length = result
    assert version in ('1.0', '1.1')
    assert method and all(c in TCHAR for c in method)
    assert all(32 < ord(c) < 127 for c in target)
    assert len(headers) <= max_headers
    for name, value in headers.items():
        assert name and name == name.lower() and all(c in TCHAR for c in name)
        assert '\x00' not in value and '\r' not in value and '\n' not in value
    if length is None:
        assert 'content-length' not in headers and 'transfer-encoding' not in headers
    elif length == -1:
        assert headers['transfer-encoding'].lower() == 'chunked'
        assert 'content-length' not in headers and version == '1.1'
    else:
        cl = headers['content-length']
        assert 'transfer-encoding' not in headers
        assert all('0' <= c <= '9' for c in cl) and length == int(cl) >= 0
    return result


@PROPERTY
@given(st.binary(), st.integers(1, 40))
def test_prop_parse_head_only_http_error(data, max_headers):
    check_head(data, max_headers)


LINE = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([b'GET / HTTP/1.1', b'POST /x HTTP/1.0', b'GET  HTTP/1.1',
                     b'Host: x', b'Content-Length: 5', b'Transfer-Encoding: chunked',
                     b' folded', b'X: \x00', b'Cookie: a=1', b'']))


@PROPERTY
@given(st.lists(LINE, min_size=1, max_size=8).map(lambda lines: crlf(*lines)))
def test_prop_parse_head_line_structured_only_http_error(data):
    check_head(data)


FRAMING_NAMES = st.sampled_from([b'Content-Length', b'content-length',
                                 b'Transfer-Encoding', b'Host', b'Cookie', b'X-A'])
FRAMING_VALUES = st.one_of(
    st.binary(max_size=20),
    st.text(max_size=20).map(str.encode),
    st.integers(-10, 10 ** 17).map(lambda n: str(n).encode()),
    st.sampled_from([b'chunked', b'Chunked', b' chunked ', b'gzip', b'', b'\xc2\xb2']))


@PROPERTY
@given(version=st.sampled_from([b'1.0', b'1.1', b'1.9', b'2.0']),
       fields=st.lists(st.tuples(FRAMING_NAMES, FRAMING_VALUES), max_size=5))
def test_prop_parse_head_framing_only_http_error(version, fields):
    check_head(crlf(b'POST / HTTP/' + version, *[n + b': ' + v for n, v in fields]))


FIELDS = st.lists(st.tuples(
    st.text(TCHAR, min_size=1).filter(
        lambda n: n.lower() not in ('content-length', 'transfer-encoding')),
    st.text(st.characters(exclude_categories=('Cc', 'Cs'))).map(
        lambda s: s.strip(' \t'))), max_size=6, unique_by=lambda f: f[0].lower())


def valid_head(method, target, minor, fields):
    data = ('%s %s HTTP/1.%d\r\n' % (method, target, minor)).encode()
    return data + b''.join(('%s: %s\r\n' % field).encode() for field in fields)


@PROPERTY
@given(method=st.text(TCHAR, min_size=1),
       target=st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                     blacklist_characters='#'), min_size=1),
       minor=st.integers(0, 9), fields=FIELDS)
def test_prop_valid_head_parses(method, target, minor, fields):
    assert parse_head(valid_head(method, target, minor, fields)) == (
        method, target, '1.0' if minor == 0 else '1.1',
        {n.lower(): v for n, v in fields}, None)


@PROPERTY
@given(st.binary(), st.integers(0, 8), st.integers(1, 80), st.integers(1, 200))
def test_prop_find_head_only_http_error(data, pos, max_line, max_header_bytes):
    pos = min(pos, len(data))
    result = only_http_errors(find_head, data, pos, max_line, max_header_bytes)
    if not isinstance(result, HTTPError):
        start, end = result
        assert pos <= start <= len(data)
        assert end == -1 or (end >= start and data[end:end + 4] == b'\r\n\r\n')


@PROPERTY
@given(method=st.text(TCHAR, min_size=1, max_size=10),
       target=st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                     blacklist_characters='#'), min_size=1,
                      max_size=40),
       fields=FIELDS, blank_lines=st.integers(0, 3), cut=st.integers(0, 10 ** 6),
       before=st.binary(max_size=10))
def test_prop_find_head_waits_then_finds_a_valid_head(method, target, fields, blank_lines,
                                                      cut, before):
    head = valid_head(method, target, 1, fields)
    data = before + b'\r\n' * blank_lines + head + b'\r\nNEXT'
    pos = len(before)
    # each prefix is a head still arriving: never an error while it fits the limits
    prefix = data[:pos + cut % (len(data) - pos + 1)]
    start, end = find_head(prefix, pos, 4096, 8192)
    assert end == -1 or prefix[start:end + 2] == head
    start, end = find_head(data, pos, 4096, 8192)
    assert start == pos + 2 * blank_lines and data[start:end + 2] == head
    assert parse_head(data[start:end + 2])[:2] == (method, target)


# -- chunked coding ----------------------------------------------------------------------

@PROPERTY
@given(st.binary())
def test_prop_chunk_size_only_http_error(line):
    result = only_http_errors(parse_chunk_size, line)
    if not isinstance(result, HTTPError):
        assert 0 <= result <= 0xffffffff


@PROPERTY
@given(st.binary(max_size=10).map(lambda b: b + b'\r\n'))
def test_prop_chunk_size_short_lines_only_http_error(line):
    only_http_errors(parse_chunk_size, line)


class PieceReader(BytesReader):
    """A reader whose successive reads give at most ``sizes`` bytes, in a cycle."""

    def __init__(self, data, sizes):
        super().__init__(data)
        self.sizes = itertools.cycle(sizes)

    async def read(self, size):
        return await super().read(min(size, next(self.sizes)))


@PROPERTY
@given(parts=st.lists(st.binary(max_size=300), max_size=12),
       reader_sizes=st.lists(st.integers(1, 64), min_size=1, max_size=8),
       read_size=st.integers(1, 400),
       trailers=st.lists(st.sampled_from([b'X-A: 1\r\n', b'Checksum: abc\r\n']),
                         max_size=3),
       extension=st.sampled_from([b'', b';a=b', b' ; x']))
def test_prop_chunked_round_trip(parts, reader_sizes, read_size, trailers, extension):
    # encode_chunk(b'') is the last chunk, so empty parts are not framed
    raw = b''.join(encode_chunk(p).replace(b'\r\n', extension + b'\r\n', 1)
                   for p in parts if p)
    raw += b'0' + extension + b'\r\n' + b''.join(trailers) + b'\r\n' + b'NEXT'
    if not trailers and not extension:
        assert raw.endswith(encode_chunk(b'') + b'NEXT')
    reader = PieceReader(raw, reader_sizes)
    body = Body(reader, -1)
    assert asyncio.run(read_all(body, read_size)) == b''.join(parts)
    assert body.done and not body.broken
    assert reader.data[reader.pos:] == b'NEXT'


# -- text formats -----------------------------------------------------------------------

@PROPERTY
@given(st.text(), st.booleans())
def test_prop_unquote_only_http_error(text, plus):
    result = only_http_errors(unquote, text, plus)
    if not isinstance(result, HTTPError) and '%' not in text:
        assert result == (text.replace('+', ' ') if plus else text)


@PROPERTY
@given(st.text(alphabet='%0123456789abcdefABCDEFgG+ \u00e9'), st.booleans())
def test_prop_unquote_escape_heavy_only_http_error(text, plus):
    only_http_errors(unquote, text, plus)


@PROPERTY
@given(st.text())
def test_prop_parse_query_only_http_error(text):
    result = only_http_errors(parse_query, text)
    if not isinstance(result, HTTPError):
        assert isinstance(result, MultiDict)


@PROPERTY
@given(st.text(alphabet='=&%+abc12 ;\u00e9'))
def test_prop_parse_query_escape_heavy_only_http_error(text):
    only_http_errors(parse_query, text)


@PROPERTY
@given(st.one_of(st.none(), st.text()))
def test_prop_parse_cookies_never_raises(header):
    cookies = parse_cookies(header)
    assert isinstance(cookies, dict)
    for name in cookies:
        assert name and name == name.strip()


@PROPERTY
@given(st.text(), st.sampled_from(['/', '', ':@']))
def test_prop_quote_unquote_round_trip(text, safe):
    quoted = quote(text, safe)
    assert all(32 < ord(c) < 127 for c in quoted)
    assert unquote(quoted) == text
    assert unquote(quoted, plus=True) == text


# -- building: heads, paths, framing -----------------------------------------------------

SAFE_VALUE = st.text(st.characters(exclude_categories=('Cc', 'Cs'))).map(
    lambda s: s.strip(' \t'))
# Framing headers and Host have rules of their own, tested in test_protocol.py.
FREE_NAME = st.text(TCHAR, min_size=1).filter(
    lambda n: n.lower() not in ('content-length', 'transfer-encoding', 'host'))


@PROPERTY
@given(status=st.integers(100, 599),
       headers=st.lists(st.tuples(FREE_NAME, SAFE_VALUE), max_size=8),
       cookies=st.lists(SAFE_VALUE, max_size=3))
def test_prop_format_head_parses_back(status, headers, cookies):
    fields = Headers()
    for name, value in headers:
        fields[name] = value  # a repeated name: the last value, the first spelling
    head = format_head(status, fields, cookies)
    assert head.endswith(b'\r\n\r\n')
    status_line, _, rest = head.partition(b'\r\n')
    assert status_line == ('HTTP/1.1 %d %s' % (status, reason(status))).encode()
    # The header lines parse back with parse_head (behind a request line).
    parsed = parse_head(b'GET / HTTP/1.1\r\n' + rest[:-2], 20)[3]
    expected = {}
    for name, value in fields.items() + [('Set-Cookie', c) for c in cookies]:
        name = name.lower()
        expected[name] = value if name not in expected else (
            expected[name] + ('; ' if name == 'cookie' else ', ') + value)
    assert parsed == expected


@PROPERTY
@given(name=st.text(min_size=1).filter(lambda s: '/' not in s),
       number=st.integers(0, 10 ** 12),
       path=st.lists(st.text(min_size=1).filter(lambda s: '/' not in s),
                     min_size=1, max_size=4).map('/'.join))
def test_prop_build_then_match(name, number, path):
    route = compile_route('/a/<name>/n-<int:number>.x/<path:rest>')
    params = {'name': name, 'number': number, 'rest': path}
    built = build_path(route, dict(params))
    assert all(32 < ord(c) < 127 for c in built)
    assert route.match(unquote(built).split('/')) == params


RESPONSE_HEADERS = st.dictionaries(
    st.sampled_from(['Content-Length', 'connection', 'Connection', 'X-A', 'Content-Type']),
    st.sampled_from(['5', 'close', 'Close', 'keep-alive', 'upgrade', 'text/plain']),
    max_size=4)


@PROPERTY
@given(method=st.sampled_from(['GET', 'HEAD', 'POST']), version=st.sampled_from(['1.0', '1.1']),
       keep_alive=st.booleans(), status=st.sampled_from([100, 101, 103, 200, 204, 206, 304,
                                                         404, 500]),
       headers=RESPONSE_HEADERS, length=st.one_of(st.none(), st.integers(0, 10 ** 6)))
def test_prop_response_framing(method, version, keep_alive, status, headers, length):
    given_headers = Headers(headers)
    before = sorted(given_headers.items())
    mode, keep, changes = response_framing(method, version, keep_alive, status,
                                           given_headers, length)
    assert sorted(given_headers.items()) == before
    assert mode in (NO_BODY, LENGTH, CHUNKED, UNTIL_CLOSE)
    assert keep in (True, False) and (keep_alive or not keep)
    final = apply_changes(headers, changes)
    assert not ('content-length' in final and 'transfer-encoding' in final)
    if method == 'HEAD' or status < 200 or status in (204, 304):
        assert mode == NO_BODY
    if status < 200 or status in (204, 304):
        assert 'content-length' not in final and 'transfer-encoding' not in final
    if mode == CHUNKED:
        assert version == '1.1' and final['transfer-encoding'] == 'chunked'
    if mode == LENGTH and length is not None:
        assert final['content-length'] == str(length)
    if mode == UNTIL_CLOSE or status == 101:
        assert not keep
    if status != 101:
        assert keep == (final.get('connection', '').lower() != 'close' and (
            version == '1.1' or final.get('connection') == 'keep-alive'))
