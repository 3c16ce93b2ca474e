"""Message bodies over any byte stream: chunked coding, buffered reading,
request bodies (Content-Length or chunked) under the limits their caller
passes, and writing streamed response bodies.

Nothing here knows about sockets or deadlines. A :class:`Body` decodes a
request body from any reader with ``read`` and ``readline``: the server's
connection, or a :class:`BytesReader` over bytes in memory. :func:`send_stream`
writes a response body through the connection's ``send`` and ``drain``. Only requests and
responses with a body load this module, so chunked coding is here, not in
:mod:`weblet.protocol`, which every request loads.
"""
from .platform import MICROPYTHON
from .protocol import HEX_DIGITS, HTTPError, _has_controls, _is_token

_HEX_BYTES = HEX_DIGITS.encode()  # chunk sizes are bytes

READ_SIZE = 1024  # bytes per read when a whole body is read or skipped


# -- chunked coding (RFC 9112 section 7.1) ------------------------------------------

def check_trailer(line):
    """Raise ``HTTPError(400)`` unless ``line`` (bytes, with its CRLF) is a field
    line, ``name: value``, as the trailers after a chunked body's last chunk
    must be. So a body whose last chunk lacks its final CRLF cannot swallow the
    request that follows it as trailers."""
    colon = line.find(b':')
    if (colon < 1 or line[-2:] != b'\r\n' or not _is_token(line[:colon])
            or _has_controls(line[colon + 1:-2])):
        raise HTTPError(400, 'bad trailer')


def parse_chunk_size(line):
    """The size from a chunk-size line (with its CRLF); chunk extensions are ignored."""
    if line[-2:] != b'\r\n' or b'\r' in line[:-2] or b'\n' in line[:-2]:
        raise HTTPError(400, 'bad chunk size')
    # Whitespace may follow the digits (BWS before an extension, RFC 9112
    # section 7.1.1) but not come first: chunk-size is 1*HEXDIG, and ' 5' was
    # read as 5 where h11 refuses it, a framing another parser may not share.
    line = line[:-2].split(b';')[0].rstrip(b' \t')
    # Hex digits only (int() would take '0x', '_' or a sign); what strip() leaves
    # is the rest, checked as bytes: chr() makes MicroPython keep each character.
    if not line or len(line) > 8 or line.strip(_HEX_BYTES):
        raise HTTPError(400, 'bad chunk size')
    return int(line, 16)


def encode_chunk(data):
    """Frame ``data`` as one chunk of a chunked body (``b''`` frames the last chunk)."""
    # Concatenated, not %s-formatted: MicroPython formats a bytearray or a
    # memoryview by its repr.
    return b'%x\r\n' % len(data) + bytes(data) + b'\r\n' if data else b'0\r\n\r\n'


class BytesReader:
    """The reader a :class:`Body` needs, over bytes held in memory.

    The server reads bodies from its connection; this serves a request made
    without a socket, such as a test's. ``read`` and ``readline`` raise
    ``EOFError`` past the end, as a connection whose peer has gone does.
    """

    def __init__(self, data):
        self.data = data
        self.pos = 0

    async def read(self, size):
        """Up to ``size`` bytes, at least one."""
        if self.pos >= len(self.data):
            raise EOFError()
        data = self.data[self.pos:self.pos + size]
        self.pos += len(data)
        return data

    async def readline(self, limit, status=400):
        """One line including its LF; ``HTTPError(status)`` past ``limit`` bytes."""
        end = self.data.find(b'\n', self.pos)
        if end < 0:
            if len(self.data) - self.pos > limit:
                raise HTTPError(status)
            raise EOFError()
        end += 1
        if end - self.pos > limit:
            raise HTTPError(status)
        data = self.data[self.pos:end]
        self.pos = end
        return data


class Body:
    """A request body as an async stream: ``await body.read(n)`` returns ``b''`` at the end.

    :param reader: where the body's bytes come from, positioned at its first
        byte: anything with ``async read(n)`` (up to ``n`` bytes, at least
        one) and ``async readline(limit, status)`` (a line with its LF,
        ``HTTPError(status)`` past ``limit`` bytes), both raising
        ``EOFError`` when the peer has gone: the server's connection, or a
        :class:`BytesReader`.
    :param length: the declared Content-Length, or ``-1`` for a chunked body,
        whose chunked coding this removes.
    :param max_trailers: the most bytes of trailer lines after the last
        chunk (``HTTPError(431)`` past it).
    :param send_continue: for a client that sent ``Expect: 100-continue``,
        an ``async fn()`` that tells it to go on; called before the first read.

    A malformed chunk is ``HTTPError(400)``; the body is then ``broken`` and
    reads as ended.
    """

    started = broken = False
    _send_continue = None

    def __init__(self, reader, length, max_trailers=4096, send_continue=None):
        self._reader = reader
        self.length = length
        self._left = length  # bytes left in the body, or in the current chunk
        self.max_trailers = max_trailers
        if send_continue is not None:
            self._send_continue = send_continue
        self.done = length == 0

    @property
    def expect_continue(self):
        """True while the client waits for ``100 Continue`` that no read has sent yet."""
        return self._send_continue is not None and not self.started

    async def read(self, size=-1):
        """Up to ``size`` bytes (the whole rest if ``size`` < 0); ``b''`` once the body ends."""
        if size < 0:
            return await read_limited(self, None)
        if self.done or self.broken:
            return b''
        reader = self._reader
        if not self.started:
            self.started = True
            if self._send_continue is not None:
                await self._send_continue()
        try:
            if self.length < 0 and self._left <= 0 and not await self._next_chunk():
                return b''
            data = await reader.read(min(size, self._left))
            self._left -= len(data)
            if self.length >= 0:
                self.done = self._left == 0
            elif self._left == 0 and await reader.readline(2) != b'\r\n':
                raise HTTPError(400, 'bad chunk end')
            return data
        except HTTPError:
            self.broken = True
            raise

    async def _next_chunk(self):
        reader = self._reader
        size = parse_chunk_size(await reader.readline(64))
        if size == 0:  # the last chunk: skip trailers up to the blank line
            left = self.max_trailers
            while True:
                line = await reader.readline(left, 431)
                if line == b'\r\n':
                    break
                check_trailer(line)
                left -= len(line)
            self.done = True
        self._left = size
        return size

    def reusable(self, limit):
        """Whether the connection can carry another request after this body: the
        rest can be read and dropped, up to ``limit`` bytes (see :meth:`discard`).

        An unread body is only skipped when it is small and was sent without
        waiting for ``100 Continue``: a client that waits must not be asked.
        """
        if self.started:
            return not self.broken
        return self.length <= limit and self._send_continue is None

    async def discard(self, limit):
        """Read and drop the rest of the body; False if it is broken or over ``limit`` bytes."""
        if self.done:
            return True
        if (self.broken or (self.length >= 0 and self._left > limit)
                or self.expect_continue):
            return False
        total = 0
        while total <= limit:
            data = await self.read(READ_SIZE)
            if not data:
                return not self.broken
            total += len(data)
        return False


async def read_limited(body, limit):
    """All of ``body`` as bytes; ``HTTPError(413)`` (and a broken body) past
    ``limit`` bytes (``None``: no limit)."""
    # A small part joins the last piece, so that a piece costs about its bytes:
    # kept one object each, 5,000 one-byte chunks took 72 B each and filled a
    # 78K heap. Small pieces, not one growing buffer, which a fragmented heap
    # may have no room to move (a 5 KB one failed in a 96K heap).
    pieces = []
    size = 0
    while limit is None or body.length <= limit:
        part = await body.read(READ_SIZE)
        if not part:
            return b''.join(pieces)
        size += len(part)
        if limit is not None and size > limit:
            break
        if pieces and len(pieces[-1]) < READ_SIZE // 4:
            pieces[-1] += part
        else:
            pieces.append(part)
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


# The buffer file-like bodies are read into, shared by every response: each
# chunk is handed to the connection before anything else runs (see send_stream),
# so a file costs no buffer of its own, which a fragmented heap may have no room
# for (on the 32-bit frozen build the page-and-API load needed 42K with a buffer
# per response, 33K with one shared).
_file_buffer = None
_asked = 0  # the chunk size it was made for


def _stream_buffer(size):
    """The shared buffer for chunks of ``size`` bytes; a smaller one (down to 64
    bytes) when the heap has no room for that many in one piece: files then go
    out in smaller chunks rather than not at all."""
    global _file_buffer, _asked
    if _asked != size:
        _file_buffer = None  # let the old one go first
        want = size
        while _file_buffer is None:
            try:
                _file_buffer = memoryview(bytearray(want))
            except MemoryError:
                if want <= 64:
                    raise
                want //= 2
        _asked = size
    return _file_buffer


async def send_stream(conn, body, chunked, chunk_size=512, length=None):
    """Send a generator, async generator or file-like ``body`` on ``conn`` (its
    ``send``, ``drain`` and ``write``), framing chunks if ``chunked``; the body is
    closed at the end, whatever happens.

    ``length`` is the ``Content-Length`` the response states, if it does: the
    body is not read past it, and one that ends before it, or a generator's
    chunk that goes past it, is a ``ValueError`` (the server logs it and closes
    the connection, which tells the client the body is incomplete).

    Each chunk, with its framing, is handed to the connection before the next
    one is asked for and before anything else runs (MicroPython's stream sends
    what the socket takes and copies what it leaves; CPython's is given a
    copy). So file-like bodies are all read through one buffer, and a
    generator may yield the same buffer every time.
    """
    left = length
    try:
        while left is None or left > 0:
            if hasattr(body, '__anext__'):
                try:
                    chunk = await body.__anext__()
                except StopAsyncIteration:
                    break
            elif hasattr(body, 'readinto'):
                buf = _stream_buffer(chunk_size)
                n = body.readinto(buf if left is None or left >= len(buf) else buf[:left])
                if not n:
                    break
                chunk = buf[:n] if MICROPYTHON else bytes(buf[:n])
            elif hasattr(body, 'read'):
                chunk = body.read(chunk_size if left is None else min(chunk_size, left))
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
            if left is not None:
                left -= len(chunk)
                if left < 0:
                    break
            if chunked:
                conn.send(b'%x\r\n' % len(chunk))
                conn.send(chunk)
                conn.send(b'\r\n')
            else:
                conn.send(chunk)
            await conn.drain()
        if left:
            raise ValueError('a streamed body of Content-Length %d was %d bytes %s' % (
                length, abs(left), 'short' if left > 0 else 'over'))
        if chunked:
            await conn.write(encode_chunk(b''))
    finally:
        await close_stream(body)
