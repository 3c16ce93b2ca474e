"""Message bodies on a connection: reading request bodies (Content-Length or
chunked) as an async stream, and writing streamed response bodies."""
from .protocol import HTTPError, HEX_DIGITS
from .app import MICROPYTHON

READ_SIZE = 1024


def parse_chunk_size(line):
    """The size from a chunk-size line (with its CRLF); chunk extensions are ignored."""
    if line[-2:] != b'\r\n' or b'\r' in line[:-2] or b'\n' in line[:-2]:
        raise HTTPError(400, 'bad chunk size')
    line = line[:-2].split(b';')[0].strip(b' \t')
    if not line or len(line) > 8:
        raise HTTPError(400, 'bad chunk size')
    for c in line:
        if chr(c) not in HEX_DIGITS:
            raise HTTPError(400, 'bad chunk size')
    return int(line, 16)


def encode_chunk(data):
    """Frame ``data`` as one chunk of a chunked body (``b''`` frames the last chunk)."""
    return b'%x\r\n%s\r\n' % (len(data), data) if data else b'0\r\n\r\n'


class Body:
    """A request body as an async stream: ``await body.read(n)`` returns ``b''`` at the end.

    Decodes ``Transfer-Encoding: chunked``. ``length`` is the declared
    Content-Length, or ``-1`` for a chunked body. Each read must make progress
    within the app's ``request_timeout``.
    """

    def __init__(self, conn, length, expect_continue=False):
        self._conn = conn
        self.length = length
        self._left = length  # bytes left in the body, or in the current chunk
        self.expect_continue = expect_continue
        self.started = False
        self.broken = False
        self.done = length == 0

    async def read(self, size=-1):
        """Up to ``size`` bytes (the whole rest if ``size`` < 0); ``b''`` once the body ends."""
        if size < 0:
            parts = []
            while True:
                part = await self.read(READ_SIZE)
                if not part:
                    return b''.join(parts)
                parts.append(part)
        if self.done or self.broken:
            return b''
        conn = self._conn
        if not self.started:
            self.started = True
            if self.expect_continue:
                await conn.write(b'HTTP/1.1 100 Continue\r\n\r\n')
                conn.sent = False
        conn.wait(conn.app.request_timeout)
        try:
            if self.length < 0 and self._left <= 0 and not await self._next_chunk():
                return b''
            data = await conn.read(min(size, self._left))
            self._left -= len(data)
            if self.length >= 0:
                self.done = self._left == 0
            elif self._left == 0 and await conn.readline(2) != b'\r\n':
                raise HTTPError(400, 'bad chunk end')
            return data
        except HTTPError:
            self.broken = True
            raise
        finally:
            conn.deadline = None

    async def _next_chunk(self):
        conn = self._conn
        size = parse_chunk_size(await conn.readline(64))
        if size == 0:  # the last chunk: skip trailers up to the blank line
            total = 0
            while True:
                line = await conn.readline(conn.app.max_line, 431)
                if line == b'\r\n':
                    break
                total += len(line)
                if total > conn.app.max_header_bytes:
                    raise HTTPError(431)
            self.done = True
        self._left = size
        return size

    async def discard(self, limit):
        """Read and drop the rest of the body; False if it is broken or over ``limit`` bytes."""
        if self.done:
            return True
        if (self.broken or (self.length >= 0 and self._left > limit)
                or (self.expect_continue and not self.started)):
            return False
        total = 0
        while total <= limit:
            data = await self.read(READ_SIZE)
            if not data:
                return not self.broken
            total += len(data)
        return False


async def read_limited(body, limit):
    """All of ``body`` as bytes; ``HTTPError(413)`` (and a broken body) past ``limit`` bytes."""
    parts = []
    size = 0
    while body.length <= limit:
        part = await body.read(READ_SIZE)
        if not part:
            return b''.join(parts)
        size += len(part)
        if size > limit:
            break
        parts.append(part)
    body.broken = True
    raise HTTPError(413)


def _suspend():
    # Hands a MicroPython coroutine's suspension back to the scheduler.
    yield


async def close_stream(body):
    """Close a streamed body, sync or async, once it is sent or abandoned."""
    if hasattr(body, 'aclose'):
        await body.aclose()
    elif hasattr(body, 'close'):
        body.close()


async def send_stream(conn, body, chunked, chunk_size=512):
    """Write a generator, async generator or file-like ``body``, framing chunks if asked."""
    buf = None
    try:
        while True:
            if hasattr(body, '__anext__'):
                try:
                    chunk = await body.__anext__()
                except StopAsyncIteration:
                    break
            elif hasattr(body, 'readinto'):
                if buf is None:
                    buf = bytearray(chunk_size)
                n = body.readinto(buf)
                if not n:
                    break
                # CPython's transport may keep a reference to what it was given
                # until later (3.12+); the buffer is refilled next turn, so copy.
                chunk = memoryview(buf)[:n] if MICROPYTHON else bytes(buf[:n])
            elif hasattr(body, 'read'):
                chunk = body.read(chunk_size)
                if not chunk:
                    break
            else:
                try:
                    chunk = next(body)
                except StopIteration:
                    break
                if chunk is None and MICROPYTHON:
                    await _suspend()  # a MicroPython "async generator" awaiting
                    continue
            if not chunk:
                continue
            if isinstance(chunk, str):
                chunk = chunk.encode()
            if chunked:
                await conn.write(b'%x\r\n' % len(chunk))
                await conn.write(chunk)
                await conn.write(b'\r\n')
            else:
                await conn.write(chunk)
        if chunked:
            await conn.write(encode_chunk(b''))
    finally:
        await close_stream(body)
