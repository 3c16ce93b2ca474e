"""Unit tests of weblet.protocol.response_framing: how a response goes on the
wire (mode), whether its connection stays open, and the header changes made
first, for every branch; and that it never changes the headers it is given.

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import pytest  # noqa: E402

from weblet.protocol import (  # noqa: E402
    CHUNKED, LENGTH, NO_BODY, UNTIL_CLOSE, Headers, response_framing)

CLOSE = ('Connection', 'close')
KEEP_ALIVE = ('Connection', 'keep-alive')
CHUNKS = ('Transfer-Encoding', 'chunked')
NO_LENGTH = ('Content-Length', None)
STREAM = None  # the body's length when it is a stream

# (method, version, keep_alive, status, response headers, length) -> (mode, keep_alive, changes)
CASES = [
    # bytes: Content-Length is the body's size, whatever the application set
    (('GET', '1.1', True, 200, {}, 5), (LENGTH, True, [('Content-Length', 5)])),
    (('GET', '1.1', True, 200, {}, 0), (LENGTH, True, [('Content-Length', 0)])),
    (('POST', '1.1', True, 201, {'Content-Length': '99'}, 5),
     (LENGTH, True, [('Content-Length', 5)])),
    (('GET', '1.1', True, 404, {'Content-Type': 'text/plain'}, 10),
     (LENGTH, True, [('Content-Length', 10)])),
    # 1xx, 204 and 304 never have a body: no Content-Length either
    (('GET', '1.1', True, 100, {}, 0), (NO_BODY, True, [])),
    (('GET', '1.1', True, 103, {'Content-Length': '5'}, 5), (NO_BODY, True, [NO_LENGTH])),
    (('GET', '1.1', True, 204, {}, 0), (NO_BODY, True, [])),
    (('GET', '1.1', True, 204, {'content-length': '0'}, 0), (NO_BODY, True, [NO_LENGTH])),
    (('DELETE', '1.1', True, 204, {}, STREAM), (NO_BODY, True, [])),
    (('GET', '1.1', True, 304, {'Content-Length': '120', 'ETag': '"x"'}, 0),
     (NO_BODY, True, [NO_LENGTH])),
    (('GET', '1.1', True, 304, {}, 7), (NO_BODY, True, [])),
    (('GET', '1.0', True, 304, {}, 0), (NO_BODY, True, [KEEP_ALIVE])),
    (('GET', '1.1', False, 204, {}, 0), (NO_BODY, False, [CLOSE])),
    # a stream of a size the application stated goes as it is
    (('GET', '1.1', True, 200, {'Content-Length': '10'}, STREAM), (LENGTH, True, [])),
    (('GET', '1.0', True, 200, {'content-length': '10'}, STREAM),
     (LENGTH, True, [KEEP_ALIVE])),
    # other streams: chunked on HTTP/1.1, until the connection closes on 1.0
    (('GET', '1.1', True, 200, {}, STREAM), (CHUNKED, True, [CHUNKS])),
    (('GET', '1.1', False, 200, {}, STREAM), (CHUNKED, False, [CHUNKS, CLOSE])),
    (('GET', '1.0', True, 200, {}, STREAM), (UNTIL_CLOSE, False, [CLOSE])),
    (('GET', '1.0', False, 200, {}, STREAM), (UNTIL_CLOSE, False, [CLOSE])),
    # HEAD: no body, but the headers GET would have
    (('HEAD', '1.1', True, 200, {}, 5), (NO_BODY, True, [('Content-Length', 5)])),
    (('HEAD', '1.1', True, 200, {}, STREAM), (NO_BODY, True, [CHUNKS])),
    (('HEAD', '1.1', True, 200, {'Content-Length': '10'}, STREAM), (NO_BODY, True, [])),
    (('HEAD', '1.0', True, 200, {}, STREAM), (NO_BODY, False, [CLOSE])),
    (('HEAD', '1.0', True, 200, {}, 5), (NO_BODY, True, [('Content-Length', 5), KEEP_ALIVE])),
    (('HEAD', '1.1', True, 204, {'Content-Length': '3'}, 0), (NO_BODY, True, [NO_LENGTH])),
    # 101: the connection speaks another protocol; never kept, no Connection header
    (('GET', '1.1', True, 101, {'Connection': 'Upgrade', 'Upgrade': 'websocket'}, 0),
     (NO_BODY, False, [])),
    (('GET', '1.1', False, 101, {}, 0), (NO_BODY, False, [])),
    (('GET', '1.0', True, 101, {}, 0), (NO_BODY, False, [])),
    # the response asks to close
    (('GET', '1.1', True, 200, {'Connection': 'close'}, 2),
     (LENGTH, False, [('Content-Length', 2), CLOSE])),
    (('GET', '1.1', True, 200, {'connection': 'Close'}, STREAM),
     (CHUNKED, False, [CHUNKS, CLOSE])),
    (('GET', '1.0', True, 200, {'Connection': 'close'}, 2),
     (LENGTH, False, [('Content-Length', 2), CLOSE])),
    (('GET', '1.1', True, 200, {'Connection': 'keep-alive'}, 2),
     (LENGTH, True, [('Content-Length', 2)])),
    # the request or the server closes: Connection: close is added
    (('GET', '1.1', False, 200, {}, 2), (LENGTH, False, [('Content-Length', 2), CLOSE])),
    (('GET', '1.0', False, 200, {}, 2), (LENGTH, False, [('Content-Length', 2), CLOSE])),
    # an HTTP/1.0 connection kept says so
    (('GET', '1.0', True, 200, {}, 2), (LENGTH, True, [('Content-Length', 2), KEEP_ALIVE])),
    (('GET', '1.0', True, 200, {'Connection': 'keep-alive'}, 2),
     (LENGTH, True, [('Content-Length', 2), KEEP_ALIVE])),
]


@pytest.mark.parametrize('args, expected', CASES)
def test_response_framing(args, expected):
    method, version, keep_alive, status, headers, length = args
    result = response_framing(method, version, keep_alive, status, Headers(headers), length)
    assert result == expected


@pytest.mark.parametrize('args, expected', CASES)
def test_response_framing_leaves_its_headers_alone(args, expected):
    method, version, keep_alive, status, headers, length = args
    given = Headers(headers)
    before = sorted(given.items())
    response_framing(method, version, keep_alive, status, given, length)
    assert sorted(given.items()) == before


def apply_changes(headers, changes):
    """Headers made from the dict ``headers`` with the framing's ``changes`` made, as
    App.handle makes them."""
    final = Headers(headers)
    for name, value in changes:
        if value is None:
            final.pop(name)
        else:
            final[name] = value
    return final


@pytest.mark.parametrize('args, expected', CASES)
def test_response_framing_changes_make_a_consistent_head(args, expected):
    method, version, keep_alive, status, headers, length = args
    mode, keep, changes = expected
    final = apply_changes(headers, changes)
    assert not ('content-length' in final and 'transfer-encoding' in final)
    if status < 200 or status in (204, 304):
        assert 'content-length' not in final and mode == NO_BODY
    if mode == CHUNKED:
        assert final['Transfer-Encoding'] == 'chunked'
    if mode == UNTIL_CLOSE:
        assert not keep
    if not keep and status != 101:
        assert final['Connection'] == 'close'


def test_response_framing_example_in_its_docstring():
    assert response_framing('GET', '1.1', True, 200, Headers(), None) == (
        'chunked', True, [('Transfer-Encoding', 'chunked')])
