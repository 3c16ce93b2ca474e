"""The asyncio connection loop: reading requests, deadlines, keep-alive and writing responses.

It knows nothing about routes: it builds a :class:`~weblet.Request` from
each parsed head, hands it to ``app.dispatch`` and writes back the response.
"""
try:
    import asyncio
except ImportError:  # MicroPython before 1.21
    import uasyncio as asyncio

try:
    from time import ticks_ms, ticks_diff
except ImportError:  # CPython
    from time import monotonic
    ticks_ms = lambda: int(monotonic() * 1000)  # noqa: E731 (two lambdas cost less than defs)
    ticks_diff = lambda a, b: a - b  # noqa: E731

from .protocol import HTTPError, parse_head, format_head
from .app import Request, MICROPYTHON

CancelledError = asyncio.CancelledError
READ_SIZE = 256


class Connection:
    """One client connection: a buffered reader over the asyncio stream, and its deadline.

    ``deadline`` is ``(start, milliseconds)`` while the server waits on the client
    and ``None`` while the application runs; the server's watchdog cancels the
    connection's task once it passes. A handler that takes the connection over
    (see :attr:`weblet.Response.takeover`) uses :meth:`read`,
    :meth:`readexactly`, :meth:`readline`, :meth:`write` and ``client``.
    """

    # Defaults live on the class: an instance stores only what changes.
    buf = b''
    pos = 0
    task = deadline = client = None
    expired = sent = has_slot = False
    idle = True
    served = 0

    def __init__(self, app, reader, writer):
        self.app = app
        self.reader = reader
        self.writer = writer
        if MICROPYTHON:
            try:  # no Nagle delay between a response head and its body
                writer.s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
            except (AttributeError, OSError, TypeError):  # a TLS socket, or a port without it
                pass
        try:
            addr = writer.get_extra_info('peername')
            if isinstance(addr, (bytes, bytearray)):  # MicroPython unix port: a raw sockaddr
                import socket
                addr = socket.sockaddr(addr)[1:]
                addr = socket.inet_ntop(2 if len(addr[0]) == 4 else 10, addr[0]), addr[1]
            self.client = addr[0], addr[1]
        except (KeyError, AttributeError, TypeError, OSError):
            pass

    def wait(self, seconds):
        """Start a deadline ``seconds`` from now for what the client must do next."""
        self.deadline = (ticks_ms(), int(seconds * 1000))

    async def _fill(self):
        data = await self.reader.read(READ_SIZE)
        if not data:
            raise EOFError()
        self.buf = self.buf[self.pos:] + data if self.pos < len(self.buf) else data
        self.pos = 0

    async def readline(self, limit, status=400):
        """One line including its LF; ``HTTPError(status)`` past ``limit`` bytes."""
        while True:
            found = self.buf.find(b'\n', self.pos)
            if found >= 0:
                found += 1
                if found - self.pos > limit:
                    raise HTTPError(status)
                data = self.buf[self.pos:found]
                self.pos = found
                return data
            if len(self.buf) - self.pos > limit:
                raise HTTPError(status)
            await self._fill()

    async def read(self, size):
        """Up to ``size`` bytes, at least one; buffered bytes come first."""
        if self.pos >= len(self.buf):
            await self._fill()
        data = self.buf[self.pos:self.pos + size]
        self.pos += len(data)
        return data

    async def readexactly(self, size):
        """Exactly ``size`` bytes (``EOFError`` if the peer closes first)."""
        data = await self.read(size)
        while len(data) < size:
            data += await self.read(size - len(data))
        return data

    async def write(self, data):
        """Send ``data``; a peer that stops reading meets the request timeout."""
        self.sent = True
        self.writer.write(data)
        self.wait(self.app.request_timeout)
        await self.writer.drain()
        self.deadline = None


class Server:
    """Serves one :class:`weblet.App` on a listening socket; made by ``App.start``,
    stopped by ``App.shutdown`` (both in :mod:`weblet.appsetup`).

    ``closed`` is an ``asyncio.Event`` set once ``App.shutdown`` has finished.
    """

    # Set by AppSetup.start: the listening socket (MicroPython) or asyncio's
    # server, the accept loop's task (MicroPython) and the watchdog's task.
    listener = accepter = watchdog = None
    closing = False
    active = 0
    _slot_freed = None

    def __init__(self, app):
        self.app = app
        self.connections = set()
        self.closed = asyncio.Event()

    def _accept(self, listener, ssl):
        """MicroPython's accept loop (a generator the scheduler runs as a coroutine).

        asyncio's own loop ends for good at a MemoryError; this one loses only
        the connection it could not take on, and goes on accepting.
        """
        from asyncio import core
        while True:
            yield core._io_queue.queue_read(listener)
            client = tcp = None
            try:
                client, address = listener.accept()
                tcp = client
                if ssl is not None:
                    client = ssl.wrap_socket(client, server_side=True,
                                             do_handshake_on_connect=False)
                client.setblocking(False)
                # 'tcp': the socket under TLS, closed by _serve too, since a TLS
                # socket whose handshake failed lets go of it without closing it.
                stream = asyncio.StreamReader(client, {'peername': address, 'tcp': tcp})
                asyncio.create_task(self._serve(stream, stream))
            except (OSError, MemoryError) as e:
                if client is not None:
                    client.close()
                if isinstance(e, MemoryError):
                    self.app.log('WARN', 'out of memory: a connection was refused')

    async def _watch(self):
        """Cancel every connection whose deadline has passed: one timer for all."""
        while True:
            await asyncio.sleep(0.2)
            now = ticks_ms()
            for conn in self.connections:
                if conn.deadline is not None and ticks_diff(now, conn.deadline[0]) > conn.deadline[1]:
                    conn.deadline = None
                    conn.expired = True
                    conn.task.cancel()

    async def _serve(self, reader, writer):
        try:
            conn = Connection(self.app, reader, writer)
        except MemoryError:  # not even room to start: drop this one connection
            await writer.wait_closed()
            return
        conn.task = asyncio.current_task()
        self.connections.add(conn)
        try:
            # Wait for one of max_connections slots, closing an idle keep-alive
            # connection to make room; the watchdog ends a wait that is too long.
            conn.wait(self.app.request_timeout * 2)
            while self.active >= self.app.max_connections:
                for other in self.connections:
                    if other.has_slot and other.idle and other.served:
                        other.task.cancel()
                        break
                if self._slot_freed is None:
                    self._slot_freed = asyncio.Event()
                await self._slot_freed.wait()
            self.active += 1
            conn.has_slot = True
            conn.wait(self.app.request_timeout)
            while not self.closing:
                conn.sent = False
                conn.idle = conn.pos >= len(conn.buf)
                if conn.idle:
                    # Wait for the next request here, not deeper: an idle
                    # connection then holds only this coroutine's frame.
                    data = await reader.read(READ_SIZE)
                    if not data:
                        break
                    conn.buf = data
                    conn.pos = 0
                    conn.idle = False
                conn.wait(self.app.request_timeout)  # for the whole head
                keep = await self._exchange(conn)
                if keep is not True:
                    if keep:  # a take-over, run from here so the request's frame is gone
                        await keep(conn)
                    break
        except CancelledError:
            if hasattr(conn.task, 'uncancel'):  # CPython: handled here, later awaits are fine
                conn.task.uncancel()
            if conn.expired and not (conn.idle and conn.served):
                await self._send_error(conn, HTTPError(408 if conn.has_slot else 503))
        except HTTPError as e:
            await self._send_error(conn, e)
        except MemoryError:
            conn.buf = b''
            await self._send_error(conn, HTTPError(503))
        except (OSError, EOFError):
            pass
        except Exception as e:  # a streamed body or a take-over failed: log it, close
            self.app.log('ERROR', 'connection from %s failed: %r' % (conn.client, e))
        finally:
            self.connections.discard(conn)
            conn.deadline = None
            if conn.expired and hasattr(writer, 'transport'):
                writer.transport.abort()  # CPython: do not wait for a peer that does not read
            if conn.has_slot:
                self.active -= 1
                if self._slot_freed is not None:
                    self._slot_freed.set()
                    self._slot_freed = None
            try:
                writer.close()
                await writer.wait_closed()
                if MICROPYTHON:
                    writer.get_extra_info('tcp').close()
            except (OSError, CancelledError, KeyError):  # a reset peer, or shutdown cancelling us
                pass

    async def _send_error(self, conn, error):
        """Answer a request that could not be read, just before the connection closes."""
        if conn.sent:
            return
        body = (error.message or str(error)).encode() + b'\n'
        head = format_head(error.status, (
            ('Content-Type', 'text/plain; charset=utf-8'),
            ('Content-Length', len(body)), ('Connection', 'close')))
        try:
            conn.writer.write(head + body)
            conn.wait(1)
            await conn.writer.drain()
            # Read what the client is still sending before closing: closing with
            # unread input resets the connection, and the client may lose the answer.
            conn.wait(0.5)
            for _ in range(256):
                if not await conn.reader.read(READ_SIZE):
                    break
        except (OSError, CancelledError, MemoryError):  # closing follows either way
            pass
        conn.deadline = None

    async def _exchange(self, conn):
        """Read one request, dispatch it and write the response.

        Returns True to keep the connection, False to close it, or the
        response's ``takeover`` function when a handler takes it over.
        One coroutine does all three, so a request in flight holds one frame.
        """
        app = self.app
        # The head: the request line and header lines, each with its CRLF.
        # Empty lines before a request are skipped (RFC 9112 section 2.2).
        # Past max_line without a line end is 414, past max_header_bytes more
        # for the headers 431, a bare LF ending the request line 400.
        while True:
            buf = conn.buf
            while buf[conn.pos:conn.pos + 2] == b'\r\n':
                conn.pos += 2
            pos = conn.pos
            end = buf.find(b'\r\n\r\n', pos)
            line_end = buf.find(b'\n', pos)
            if line_end < 0 and len(buf) - pos > app.max_line or line_end - pos > app.max_line:
                raise HTTPError(414)
            if line_end > pos and buf[line_end - 1] != 13 or buf.find(b'\n\n', pos) >= 0:
                raise HTTPError(400, 'bad line ending')
            if end >= 0:
                if end - line_end > app.max_header_bytes:
                    raise HTTPError(431)
                conn.pos = end + 4
                break
            if line_end >= 0 and len(buf) - line_end > app.max_header_bytes:
                raise HTTPError(431)
            await conn._fill()
        conn.deadline = None
        method, target, version, headers, length = parse_head(buf[pos:end + 2], app.max_headers)
        buf = None  # a body read from here on may replace conn.buf
        if version == '1.1' and 'host' not in headers:
            raise HTTPError(400, 'missing host')
        expect = headers.get('expect')
        if expect is not None and expect.lower() != '100-continue':
            raise HTTPError(417)
        body = None
        if length is not None:
            from .body import Body
            body = Body(conn, length, expect is not None and version == '1.1')
        req = Request(app, method, target, version, headers, body, conn.client)
        resp = await app.dispatch(req)
        conn.served += 1
        keep = req.keep_alive and not self.closing
        resp_headers = resp.headers
        if resp_headers.get('connection', '').lower() == 'close':
            keep = False
        elif body is not None and keep and not body.started:
            # An unread body is drained, unless it is large or was never asked for.
            keep = length <= app.max_body and not body.expect_continue
        elif body is not None:
            keep = keep and not body.broken

        # The response.
        status = resp.status
        content = resp.body
        if isinstance(content, str):
            content = content.encode()
        streamed = not isinstance(content, (bytes, bytearray, memoryview))
        if streamed:
            from .body import send_stream, close_stream
        if status < 200 or status == 204 or status == 304:  # never a body
            if streamed:
                await close_stream(content)
            content = b''
            streamed = False
            resp_headers.pop('content-length')
        elif not streamed:
            resp_headers['Content-Length'] = len(content)
        elif 'content-length' not in resp_headers:
            if version == '1.1':
                resp_headers['Transfer-Encoding'] = 'chunked'
            else:
                keep = False
        if status != 101:
            if not keep:
                resp_headers['Connection'] = 'close'
            elif version == '1.0':
                resp_headers['Connection'] = 'keep-alive'
        head = format_head(status, resp_headers.items(), resp.cookies)
        if req.method == 'HEAD' or streamed or len(content) >= 1024:
            await conn.write(head)
            if req.method == 'HEAD':
                if streamed:
                    await close_stream(content)
            elif streamed:
                await send_stream(conn, content, 'transfer-encoding' in resp_headers,
                                  app.stream_chunk_size)
            else:
                await conn.write(content)
        else:
            await conn.write(head + content if content else head)
        if resp.takeover is not None:
            return resp.takeover
        if keep and body is not None:
            keep = await body.discard(app.max_body)
        conn.wait(app.keepalive_timeout)
        return keep
