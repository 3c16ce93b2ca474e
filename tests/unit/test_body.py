"""Unit tests of weblet.body: chunk sizes and chunks; request bodies
(Content-Length or chunked) over an in-memory reader, with their limits, 100-continue and reuse of the
connection; and streaming a response body through an async write.

Portable: runs on CPython under pytest and on MicroPython under micropython/run.py.
"""
import sys

if sys.implementation.name != 'micropython':  # CPython: weblet from the source tree
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'core'))

import asyncio  # noqa: E402

import pytest  # noqa: E402

from weblet.body import (  # noqa: E402
    Body, BytesReader, close_stream, encode_chunk, parse_chunk_size, read_limited, send_stream)
from weblet.protocol import HTTPError  # noqa: E402


class OneByteReader(BytesReader):
    """A reader whose reads give one byte at a time, as a slow peer's would."""

    async def read(self, size):
        return await BytesReader.read(self, 1)


def reader_for(data, one_byte):
    return OneByteReader(data) if one_byte else BytesReader(data)


async def read_all(body, size):
    parts = []
    while True:
        part = await body.read(size)
        if not part:
            return b''.join(parts)
        assert len(part) <= size
        parts.append(part)


def read_body(data, length, size=1024, one_byte=False, max_trailers=4096):
    """``(bytes read, body, reader)`` after reading ``data`` as a body to its end."""
    reader = reader_for(data, one_byte)
    body = Body(reader, length, max_trailers)
    return asyncio.run(read_all(body, size)), body, reader


def rest(reader):
    """The reader's bytes not consumed yet."""
    return reader.data[reader.pos:]


# -- parse_chunk_size and encode_chunk -------------------------------------------

@pytest.mark.parametrize('line, expected', [
    (b'0\r\n', 0),
    (b'5\r\n', 5),
    (b'a\r\n', 10),
    (b'A\r\n', 10),
    (b'1f\r\n', 31),
    (b'00000010\r\n', 16),
    (b'ffffffff\r\n', 0xffffffff),
    (b'5;name=value\r\n', 5),
    (b'5;a;b="c;d"\r\n', 5),
    (b'5 ;ext\r\n', 5),
    (b'5\t;ext\r\n', 5),
    (b'5 \r\n', 5),
    (b'5;\xff\r\n', 5),
])
def test_chunk_size_ok(line, expected):
    assert parse_chunk_size(line) == expected


@pytest.mark.parametrize('line', [
    b'', b'\r\n', b';ext\r\n', b' \r\n',
    b'5', b'5\n', b'5\r', b'5\r\r\n', b'5\n\r\n', b'5;a\rb\r\n',
    b'g\r\n', b'0x5\r\n', b'-5\r\n', b'+5\r\n', b'5 5\r\n', b'5_0\r\n',
    b'\xef\xbc\x95\r\n',            # a fullwidth digit
    b'100000000\r\n',               # more than 8 hex digits
    b' 5\r\n', b'\t5\r\n', b' 5;ext\r\n',  # whitespace before the size (RFC 9112 section 7.1)
])
def test_chunk_size_malformed_is_400(line):
    with pytest.raises(HTTPError) as info:
        parse_chunk_size(line)
    assert info.value.status == 400


@pytest.mark.parametrize('data, expected', [
    (b'hello', b'5\r\nhello\r\n'),
    (b'x' * 26, b'1a\r\n' + b'x' * 26 + b'\r\n'),
    (b'\r\n', b'2\r\n\r\n\r\n'),
    (bytearray(b'abc'), b'3\r\nabc\r\n'),
    (b'', b'0\r\n\r\n'),
])
def test_encode_chunk(data, expected):
    assert encode_chunk(data) == expected
    assert encode_chunk(memoryview(data)) == expected


def test_encode_chunk_size_parses_back():
    framed = encode_chunk(b'z' * 300)
    assert parse_chunk_size(framed[:framed.index(b'\n') + 1]) == 300


# -- BytesReader ----------------------------------------------------------------

def test_bytes_reader():
    async def run():
        reader = BytesReader(b'ab\r\ncdef')
        assert await reader.readline(10) == b'ab\r\n'
        assert await reader.read(3) == b'cde'
        assert await reader.read(10) == b'f'
        with pytest.raises(EOFError):
            await reader.read(1)
        with pytest.raises(EOFError):
            await reader.readline(10)
    asyncio.run(run())


def test_bytes_reader_readline_limit():
    async def run(data, limit, status):
        with pytest.raises(HTTPError) as info:
            await BytesReader(data).readline(limit, status)
        return info.value.status
    assert asyncio.run(run(b'abcdef\n', 3, 400)) == 400
    assert asyncio.run(run(b'abcdef', 3, 431)) == 431   # no LF yet, already too long
    assert asyncio.run(BytesReader(b'ab\n').readline(3)) == b'ab\n'


# -- Content-Length bodies -------------------------------------------------------

def test_body_content_length():
    data, body, reader = read_body(b'helloNEXT', 5)
    assert data == b'hello' and body.done and not body.broken
    assert body.length == 5
    assert rest(reader) == b'NEXT'


@pytest.mark.parametrize('one_byte', [False, True])
def test_body_content_length_small_reads(one_byte):
    data, body, reader = read_body(b'0123456789NEXT', 10, 3, one_byte)
    assert data == b'0123456789'
    assert rest(reader) == b'NEXT'


def test_body_empty_content_length_reads_nothing():
    data, body, reader = read_body(b'NEXT', 0)
    assert data == b'' and body.done and not body.started
    assert rest(reader) == b'NEXT'


def test_body_without_reader_is_empty():
    assert asyncio.run(Body(None, 0).read()) == b''


def test_body_read_all_with_negative_size():
    async def run():
        body = Body(BytesReader(b'x' * 3000 + b'NEXT'), 3000)
        return await body.read(), await body.read(-1), await body.read(5)
    assert asyncio.run(run()) == (b'x' * 3000, b'', b'')


# -- chunked bodies ----------------------------------------------------------------

@pytest.mark.parametrize('one_byte', [False, True])
def test_body_chunked_simple(one_byte):
    raw = b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT'
    data, body, reader = read_body(raw, -1, one_byte=one_byte)
    assert data == b'hello world' and body.done and not body.broken
    assert body.length == -1
    assert rest(reader) == b'NEXT'


@pytest.mark.parametrize('one_byte', [False, True])
def test_body_chunked_small_reads_and_extensions(one_byte):
    raw = b'5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT'
    data, body, reader = read_body(raw, -1, 3, one_byte)
    assert data == b'hello0123456789'
    assert rest(reader) == b'NEXT'


def test_body_chunked_read_all_with_negative_size():
    async def run():
        body = Body(BytesReader(b'3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'), -1)
        return await body.read(), await body.read(-1)
    assert asyncio.run(run()) == (b'abcde', b'')


@pytest.mark.parametrize('one_byte', [False, True])
def test_body_chunked_trailers_are_skipped(one_byte):
    raw = b'3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\nNEXT'
    data, body, reader = read_body(raw, -1, one_byte=one_byte)
    assert data == b'abc' and body.done
    assert rest(reader) == b'NEXT'


def test_body_chunked_trailers_up_to_the_limit():
    raw = b'0\r\n' + b'X-Trailer: 0123456789\r\n' * 3 + b'\r\nNEXT'  # 69 bytes of trailers
    data, body, reader = read_body(raw, -1, max_trailers=71)
    assert data == b'' and body.done and rest(reader) == b'NEXT'


def test_body_chunked_empty():
    data, body, reader = read_body(b'0\r\n\r\n', -1)
    assert data == b'' and body.done


def run_until_error(raw, length=-1, one_byte=False, max_trailers=4096):
    """The status of the HTTPError reading ``raw`` raises; the body is broken after it."""
    body = Body(reader_for(raw, one_byte), length, max_trailers)

    async def run():
        with pytest.raises(HTTPError) as info:
            await read_all(body, 1024)
        assert body.broken
        assert await body.read(10) == b''  # a broken body reads as ended
        assert await body.read() == b''
        return info.value.status
    return asyncio.run(run())


@pytest.mark.parametrize('raw', [
    b'5\r\nhelloX\r\n0\r\n\r\n',        # chunk longer than its size
    b'5\r\nhell\r\n0\r\n\r\n',          # chunk shorter than its size
    b'5\r\nhello\n0\r\n\r\n',           # bare LF after the data
    b'5\r\nhello\r\r\n0\r\n\r\n',
    b'5\nhello\r\n0\r\n\r\n',           # bare LF after the size
    b'x\r\nhello\r\n0\r\n\r\n',         # non-hex size
    b'-5\r\nhello\r\n0\r\n\r\n',
    b'\r\n',                            # empty size line
    b'5;' + b'e' * 80 + b'\r\nhello\r\n0\r\n\r\n',  # size line too long
    b'1' * 80 + b'\r\n',                # size line too long, no extension
    b'100000000\r\n',                   # size too large
    b' 0\r\n\r\n',                      # whitespace before the size
])
@pytest.mark.parametrize('one_byte', [False, True])
def test_body_chunked_malformed_is_400(raw, one_byte):
    assert run_until_error(raw, one_byte=one_byte) == 400


@pytest.mark.parametrize('raw', [
    b'0\r\nno colon here\r\n\r\n',      # a trailer line without a colon
    b'0\r\n: no name\r\n\r\n',
    b'0\r\nBad Name: 1\r\n\r\n',       # not a token
    b'0\r\nX-A: a\x01b\r\n\r\n',       # a control character
    # The last chunk's CRLF is missing: the next request must not pass as trailers.
    b'3\r\nabc\r\n0\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n',
    b'3\r\nabc\r\n0\r\nGET /a:b HTTP/1.1\r\nHost: x\r\n\r\n',
])
@pytest.mark.parametrize('one_byte', [False, True])
def test_body_chunked_bad_trailers_are_400(raw, one_byte):
    assert run_until_error(raw, one_byte=one_byte) == 400


def test_body_chunked_trailers_too_large_is_431():
    raw = b'0\r\n' + b'X-Trailer: 0123456789\r\n' * 3 + b'\r\n'
    assert run_until_error(raw, max_trailers=40) == 431


def test_body_chunked_trailer_line_too_long_is_431():
    raw = b'0\r\nX-Trailer: 0123456789abcdef\r\n\r\n'
    assert run_until_error(raw, max_trailers=16) == 431


@pytest.mark.parametrize('raw, length', [
    (b'5\r\nhel', -1), (b'5\r\nhello', -1), (b'5\r\nhello\r\n', -1),
    (b'0\r\n', -1), (b'0\r\nX-A: 1\r\n', -1), (b'', -1), (b'abc', 5), (b'', 5),
])
def test_body_client_gone_is_eof(raw, length):
    async def run():
        with pytest.raises(EOFError):
            await read_all(Body(BytesReader(raw), length), 1024)
    asyncio.run(run())


# -- discard and reusable ------------------------------------------------------------

def test_body_discard():
    async def run():
        reader = BytesReader(b'3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nNEXT')
        body = Body(reader, -1)
        assert await body.read(2) == b'ab'
        assert await body.discard(100)
        assert body.done and rest(reader) == b'NEXT'
        assert await body.discard(100)  # already done
        big = Body(BytesReader(b'x' * 50), 50)
        assert not await big.discard(10)  # declared length over the limit
        chunked = Body(BytesReader(encode_chunk(b'x' * 50) + encode_chunk(b'')), -1)
        assert not await chunked.discard(10)  # over the limit on the way
        plain = Body(BytesReader(b'x' * 50 + b'NEXT'), 50)
        assert await plain.discard(50)
        assert plain.done and rest(plain._reader) == b'NEXT'
    asyncio.run(run())


def test_body_discard_broken_is_false():
    async def run():
        body = Body(BytesReader(b'x\r\n'), -1)
        with pytest.raises(HTTPError):
            await body.read(10)
        return await body.discard(100)
    assert asyncio.run(run()) is False


@pytest.mark.parametrize('length, limit, expected', [
    (10, 10, True),      # small enough to skip unread
    (11, 10, False),
    (0, 10, True),
    (-1, 10, True),      # chunked: read up to the limit when skipped
])
def test_body_reusable_unread(length, limit, expected):
    assert Body(BytesReader(b''), length).reusable(limit) is expected


def test_body_reusable_once_started():
    async def run():
        body = Body(BytesReader(b'x' * 100), 100)
        await body.read(1)
        started = body.reusable(10)  # started: the rest is skipped whatever its size
        broken = Body(BytesReader(b'zz\r\n'), -1)
        with pytest.raises(HTTPError):
            await broken.read(1)
        return started, broken.reusable(10)
    assert asyncio.run(run()) == (True, False)


# -- 100-continue ----------------------------------------------------------------------

def test_body_expect_continue_calls_send_continue_once():
    sent = []

    async def send_continue():
        sent.append(1)

    body = Body(BytesReader(b'abcdef'), 6, send_continue=send_continue)

    async def run():
        assert body.expect_continue
        assert not body.reusable(100)       # unstarted: the client waits, do not ask it
        assert not await body.discard(100)
        assert sent == [] and body.expect_continue
        assert await body.read(3) == b'abc'
        assert sent == [1] and not body.expect_continue
        assert await body.read(3) == b'def'
        return await body.read(3)
    assert asyncio.run(run()) == b''
    assert sent == [1]
    assert body.reusable(100)


def test_body_without_send_continue_does_not_expect():
    body = Body(BytesReader(b'abc'), 3)
    assert not body.expect_continue


def test_body_send_continue_before_a_chunked_body():
    sent = []

    async def send_continue():
        sent.append(1)

    body = Body(BytesReader(b'2\r\nab\r\n0\r\n\r\n'), -1, send_continue=send_continue)
    assert asyncio.run(body.read()) == b'ab'
    assert sent == [1]


# -- read_limited -------------------------------------------------------------------

def test_read_limited():
    async def run(raw, length, limit):
        body = Body(BytesReader(raw), length)
        try:
            return await read_limited(body, limit)
        except HTTPError as e:
            assert body.broken
            return e.status
    chunked = encode_chunk(b'x' * 30) + encode_chunk(b'y' * 30) + encode_chunk(b'')
    assert asyncio.run(run(b'hello', 5, 5)) == b'hello'
    assert asyncio.run(run(b'hello', 5, 4)) == 413        # declared length over
    assert asyncio.run(run(b'', 0, 4)) == b''
    assert asyncio.run(run(chunked, -1, 60)) == b'x' * 30 + b'y' * 30
    assert asyncio.run(run(chunked, -1, 59)) == 413       # chunked, over on the way
    big = b'z' * 5000
    assert asyncio.run(run(encode_chunk(big) + encode_chunk(b''), -1, 5000)) == big


# -- send_stream and close_stream -----------------------------------------------------

class Recorder:
    """A connection's ``send``, ``drain`` and ``write`` that keep a copy of what
    they were given when given it, as a socket or MicroPython's stream does."""

    def __init__(self, fail_after=None):
        self.written = []
        self.fail_after = fail_after

    def send(self, data):
        if self.fail_after is not None and len(self.written) >= self.fail_after:
            raise OSError('peer gone')
        self.written.append(bytes(data))

    async def drain(self):
        await asyncio.sleep(0)  # lets other tasks run, as the socket's wait does

    async def write(self, data):
        self.send(data)
        await self.drain()


class Closable:
    closed = False

    def close(self):
        self.closed = True


class Readable(Closable):
    """A file-like body with ``read(n)``."""

    def __init__(self, data):
        self.data = data

    def read(self, size):
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


class ReadsInto(Readable):
    """A file-like body with ``readinto(buf)`` (and ``read``, which it must not use)."""

    def read(self, size):
        raise AssertionError('readinto comes first')

    def readinto(self, buf):
        n = min(len(buf), len(self.data))
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


def gen_body(events):
    try:
        yield b'ab'
        yield ''            # empty chunks are skipped
        yield 'c\u00e9'     # str is encoded
        yield bytearray(b'd')
    finally:
        events.append('closed')


async def agen_body(events):
    try:
        yield b'ab'
        await asyncio.sleep(0)
        yield 'c\u00e9'
        yield b''
        yield bytearray(b'd')
    finally:
        events.append('closed')


def stream(kind, events):
    if kind == 'gen':
        return gen_body(events)
    if kind == 'agen':
        return agen_body(events)
    return (Readable if kind == 'read' else ReadsInto)(b'abc\xc3\xa9d')


def closed(kind, body, events):
    return events == ['closed'] if kind in ('gen', 'agen') else body.closed


@pytest.mark.parametrize('chunked', [False, True])
@pytest.mark.parametrize('kind', ['gen', 'agen', 'read', 'readinto'])
def test_send_stream(kind, chunked):
    events = []
    body = stream(kind, events)
    out = Recorder()
    asyncio.run(send_stream(out, body, chunked, 2))
    sent = b''.join(out.written)
    assert b'' not in out.written
    if chunked:  # the frames decode back to the body
        assert sent.endswith(b'0\r\n\r\n')
        sent = asyncio.run(Body(BytesReader(sent), -1).read())
    assert sent == b'abc\xc3\xa9d'
    assert closed(kind, body, events)


def test_send_stream_chunk_size_bounds_file_reads():
    out = Recorder()
    asyncio.run(send_stream(out, ReadsInto(b'x' * 10), True, 4))
    assert out.written == [b'4\r\n', b'xxxx', b'\r\n', b'4\r\n', b'xxxx', b'\r\n',
                           b'2\r\n', b'xx', b'\r\n', b'0\r\n\r\n']


def test_send_stream_reads_a_file_no_further_than_its_length():
    out = Recorder()
    body = ReadsInto(b'x' * 10)
    asyncio.run(send_stream(out, body, False, 4, 6))
    assert out.written == [b'xxxx', b'xx'] and body.data == b'xxxx' and body.closed


@pytest.mark.parametrize('kind, length, words', [
    (kind, 9, '3 bytes short') for kind in ('gen', 'agen', 'read', 'readinto')] + [
    ('gen', 4, '1 bytes over'), ('agen', 4, '1 bytes over')])
def test_send_stream_refuses_a_body_that_is_not_its_length(kind, length, words):
    """6 bytes where 9 were stated, or a generator's chunk going past 4: an
    error (the server closes the connection), nothing sent past the stated
    length, and the body closed."""
    events = []
    body = stream(kind, events)
    out = Recorder()
    with pytest.raises(ValueError) as error:
        asyncio.run(send_stream(out, body, False, 2, length))
    assert str(error.value).endswith(words)
    assert len(b''.join(out.written)) <= length
    assert closed(kind, body, events)


@pytest.mark.parametrize('kind', ['gen', 'agen', 'read', 'readinto'])
def test_send_stream_stops_at_its_length(kind):
    """A stated length reached: nothing more is asked of the body."""
    events = []
    body = stream(kind, events)
    out = Recorder()
    asyncio.run(send_stream(out, body, False, 2, 2))
    assert out.written == [b'ab'] and closed(kind, body, events)


def test_send_stream_files_share_one_buffer_safely():
    """Two files streamed at once through the shared buffer: each chunk goes
    out before the other stream reads into the buffer again."""
    first, second = Recorder(), Recorder()

    async def both():
        await asyncio.gather(send_stream(first, ReadsInto(b'a' * 9), False, 4),
                             send_stream(second, ReadsInto(b'b' * 9), True, 4))
    asyncio.run(both())
    assert b''.join(first.written) == b'a' * 9
    assert b''.join(second.written) == encode_chunk(b'bbbb') * 2 + encode_chunk(b'b') + b'0\r\n\r\n'


def test_send_stream_files_go_in_smaller_chunks_when_the_heap_is_short():
    """No room for a 512-byte buffer in one piece: 256, then 128 is tried, and
    the file goes out in 128-byte chunks."""
    import weblet.body as module

    def short_heap(size):
        if size > 128:
            raise MemoryError('memory allocation failed, allocating %d bytes' % size)
        return real(size)

    real = bytearray
    module.bytearray = short_heap
    try:
        out = Recorder()
        asyncio.run(send_stream(out, ReadsInto(b'x' * 300), False, 512))
    finally:
        del module.bytearray
        module._asked = 0  # the next test makes its own buffer
    assert out.written == [b'x' * 128, b'x' * 128, b'x' * 44]


def test_send_stream_empty_body():
    out = Recorder()
    asyncio.run(send_stream(out, Readable(b''), True))
    assert out.written == [b'0\r\n\r\n']
    out = Recorder()
    asyncio.run(send_stream(out, Readable(b''), False))
    assert out.written == []


@pytest.mark.parametrize('kind', ['gen', 'agen', 'read', 'readinto'])
def test_send_stream_closes_the_body_when_writing_fails(kind):
    events = []
    body = stream(kind, events)
    out = Recorder(fail_after=1)
    with pytest.raises(OSError):
        asyncio.run(send_stream(out, body, True, 2))
    assert closed(kind, body, events)


def test_close_stream():
    class AsyncClosable:
        closed = False

        async def aclose(self):
            self.closed = True

    sync, async_ = Closable(), AsyncClosable()
    asyncio.run(close_stream(sync))
    asyncio.run(close_stream(async_))
    asyncio.run(close_stream(object()))  # nothing to close
    assert sync.closed and async_.closed
    events = []
    gen = gen_body(events)
    next(gen)
    asyncio.run(close_stream(gen))
    assert events == ['closed']
