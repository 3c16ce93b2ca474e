"""Unit tests of weblet.server.Connection without a socket: its buffered reads
(the reader a request Body uses on a server), the peer address, deadlines
around reads and writes, and the interim ``100 Continue``.

The server's loop is tested with real sockets in tests/server. Portable: runs
on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import asyncio  # noqa: E402

import pytest  # noqa: E402

from weblet.body import Body  # noqa: E402
from weblet.protocol import HTTPError  # noqa: E402
from weblet.server import Connection  # noqa: E402


class Stream:
    """An asyncio-stream-like reader over ``data``, giving at most ``piece`` bytes a read
    (the server reads with ``read`` on CPython, ``readinto`` on MicroPython)."""

    def __init__(self, data, piece=1024):
        self.data = data
        self.pos = 0
        self.piece = piece

    async def read(self, n):
        chunk = self.data[self.pos:self.pos + min(n, self.piece)]
        self.pos += len(chunk)
        return chunk

    async def readinto(self, buf):
        chunk = await self.read(len(buf))
        buf[:len(chunk)] = chunk
        return len(chunk)


class NoPeer:
    """A writer with no peer address."""

    def get_extra_info(self, name):
        raise KeyError(name)


class Writer:
    """A writer that records what it is given; ``peer`` is its peer address.

    ``out_buf`` is what MicroPython's stream keeps of a write that its socket
    did not take at once (here: the bytes of the writes beyond ``takes``).
    """

    out_buf = b''

    def __init__(self, peer=None, takes=None):
        self.written = []
        self.peer = peer
        self.takes = takes

    def get_extra_info(self, name):
        if self.peer is None:
            raise KeyError(name)
        return self.peer

    def write(self, data):
        self.written.append(bytes(data))
        if self.takes is not None:
            self.out_buf += bytes(data[self.takes:])
            self.takes = max(0, self.takes - len(data))

    async def drain(self):
        self.drained = self.out_buf
        self.out_buf = b''


def connect(data, piece=1024, writer=None):
    return Connection(Stream(data, piece), writer or NoPeer(), 5)


def rest(conn):
    """Bytes not consumed yet: the connection's buffer plus the stream's rest."""
    return conn.buf[conn.pos:] + conn.stream.data[conn.stream.pos:]


def test_connection_without_peer():
    assert connect(b'').client is None
    assert Connection(Stream(b''), None, 5).client is None


def test_connection_peer_address():
    assert connect(b'', writer=Writer(('10.0.0.2', 4321))).client == ('10.0.0.2', 4321)
    assert connect(b'', writer=Writer(('::1', 80, 0, 0))).client == ('::1', 80)


@pytest.mark.parametrize('piece', [1, 3, 1024])
def test_connection_reads(piece):
    async def run():
        conn = connect(b'line one\r\nabcdefgh\nNEXT', piece)
        assert await conn.readline(64) == b'line one\r\n'
        assert await conn.readexactly(5) == b'abcde'
        assert await conn.readline(64) == b'fgh\n'
        data = await conn.read(2)
        assert 1 <= len(data) <= 2 and b'NEXT'.startswith(data)
        return data + rest(conn)
    assert asyncio.run(run()) == b'NEXT'


@pytest.mark.parametrize('data, status', [
    (b'0123456789\n', 400),
    (b'0123456789', 431),    # too long before its LF arrives
])
def test_connection_readline_limit(data, status):
    async def run():
        with pytest.raises(HTTPError) as info:
            await connect(data, 4).readline(8, status)
        return info.value.status
    assert asyncio.run(run()) == status


def test_connection_peer_gone_is_eof():
    async def run():
        conn = connect(b'abc')
        with pytest.raises(EOFError):
            await conn.readexactly(5)
        with pytest.raises(EOFError):
            await connect(b'no line end').readline(64)
    asyncio.run(run())


@pytest.mark.parametrize('piece', [1, 1024])
def test_body_over_a_connection_leaves_the_next_request(piece):
    async def run(raw, length):
        conn = connect(raw, piece)
        body = Body(conn, length)
        data = await body.read()
        assert conn.deadline is None  # each read's deadline ends with it
        return data, body.done, rest(conn)
    assert asyncio.run(run(b'helloNEXT', 5)) == (b'hello', True, b'NEXT')
    chunked = b'5;x=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\nNEXT'
    assert asyncio.run(run(chunked, -1)) == (b'hello!', True, b'NEXT')


def test_connection_write():
    writer = Writer()
    conn = connect(b'', writer=writer)
    asyncio.run(conn.write(b'HTTP/1.1 200 OK\r\n\r\n'))
    assert writer.written == [b'HTTP/1.1 200 OK\r\n\r\n']
    assert conn.sent and conn.deadline is None


def test_send_says_whether_the_socket_took_everything():
    """On MicroPython what the socket did not take waits for drain(); a response
    sent whole needs no drain, and the exchange does not yield for it."""
    from weblet import MICROPYTHON
    writer = Writer(takes=10)
    conn = connect(b'', writer=writer)
    assert conn.send(b'0123456789') is MICROPYTHON  # CPython's stream keeps all: drain
    assert conn.sent and writer.out_buf == b''
    assert conn.send(b'abc') is False
    assert writer.out_buf == b'abc'
    asyncio.run(conn.drain())
    assert writer.drained == b'abc' and writer.out_buf == b'' and conn.deadline is None


def test_body_expect_continue_sends_100_once():
    writer = Writer()
    conn = connect(b'abcdef', writer=writer)
    body = Body(conn, 6, send_continue=conn.send_continue)

    async def run():
        assert not await body.discard(100)  # unstarted: the client may not send it
        assert writer.written == []
        assert await body.read(3) == b'abc'
        assert await body.read(3) == b'def'
        return await body.read(3)
    assert asyncio.run(run()) == b''
    assert writer.written == [b'HTTP/1.1 100 Continue\r\n\r\n']
    assert not conn.sent  # an interim response does not count as the answer
