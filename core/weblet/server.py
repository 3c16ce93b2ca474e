"""The asyncio connection loop: accepting, deadlines, keep-alive, pipelining,
the concurrency cap, and writing out what the protocol layer decided.

It knows the application only through :meth:`weblet.App.handle`, which it
calls with each parsed request head, and the app's limits and ``log``. How a
response is framed is :func:`weblet.protocol.response_framing`'s decision,
made inside ``handle``; this module carries it out. Starting and stopping a
Server is :mod:`weblet.lifecycle`'s.
"""
from .platform import MICROPYTHON, asyncio, ticks_ms, ticks_diff
from .protocol import (HTTPError, CHUNKED, NO_BODY, check_request, find_head, format_head,
                       parse_head)

CancelledError = asyncio.CancelledError
READ_SIZE = 256  # bytes per socket read: a request head usually fits


class Connection:
    """One client connection: buffered reads over the asyncio stream, writes, and its deadline.

    ``deadline`` is ``(start, milliseconds)`` while the server waits on the client
    and ``None`` while the application runs; the server's watchdog cancels the
    connection's task once it passes. A body read, like a write, waits
    ``timeout`` seconds at most for each piece. A handler that takes the connection over
    (see :attr:`weblet.Response.takeover`) uses :meth:`read`,
    :meth:`readexactly`, :meth:`readline`, :meth:`write` and ``client``; its
    reads have no deadline.
    """

    # Defaults live on the class: an instance stores only what changes.
    buf = b''
    pos = 0
    task = deadline = client = takeover = None
    expired = sent = has_slot = False
    idle = True
    served = 0

    def __init__(self, stream, writer, timeout):
        self.stream = stream
        self.writer = writer
        self.timeout = timeout  # seconds each write, and each read of a body, may take
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
        # A read for a request's body must make progress within the timeout. A
        # head has its own deadline running already, and a take-over's reads
        # have none.
        timed = self.deadline is None and self.takeover is None
        if timed:
            self.wait(self.timeout)
        data = await self.stream.read(READ_SIZE)
        if timed:
            self.deadline = None
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
        self.wait(self.timeout)
        await self.writer.drain()
        self.deadline = None

    async def send_continue(self):
        """Tell a client that sent ``Expect: 100-continue`` to send its body.

        An interim response: the request's answer is still to come.
        """
        await self.write(b'HTTP/1.1 100 Continue\r\n\r\n')
        self.sent = False


class Server:
    """Serves one app on a listening socket; made by ``App.start``, stopped by
    ``App.shutdown`` (both in :mod:`weblet.lifecycle`).

    ``closed`` is an ``asyncio.Event`` set once ``App.shutdown`` has finished.
    """

    # Set by lifecycle.start: the listening socket (MicroPython) or asyncio's
    # server, the accept loop's task (MicroPython) and the watchdog's task.
    listener = accepter = watchdog = None
    closing = False
    active = 0
    _slot_freed = None

    def __init__(self, app):
        self.app = app
        self.connections = set()
        self.closed = asyncio.Event()

    def accept(self, listener, ssl):
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
                # 'tcp': the socket under TLS, closed by serve too, since a TLS
                # socket whose handshake failed lets go of it without closing it.
                stream = asyncio.StreamReader(client, {'peername': address, 'tcp': tcp})
                asyncio.create_task(self.serve(stream, stream))
            except (OSError, MemoryError) as e:
                if client is not None:
                    client.close()
                if isinstance(e, MemoryError):
                    self.app.log('WARN', 'out of memory: a connection was refused')

    async def watch(self):
        """Cancel every connection whose deadline has passed: one timer for all."""
        while True:
            await asyncio.sleep(0.2)
            now = ticks_ms()
            for conn in self.connections:
                if conn.deadline is not None and ticks_diff(now, conn.deadline[0]) > conn.deadline[1]:
                    conn.deadline = None
                    conn.expired = True
                    conn.task.cancel()

    async def serve(self, reader, writer):
        """Serve one connection until it closes (asyncio's client-connected callback)."""
        try:
            conn = Connection(reader, writer, self.app.request_timeout)
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
                if not await self._exchange(conn):
                    if conn.takeover is not None:  # run from here: the request's frame is gone
                        await conn.takeover(conn)
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
                if not await conn.stream.read(READ_SIZE):
                    break
        except (OSError, CancelledError, MemoryError):  # closing follows either way
            pass
        conn.deadline = None

    async def _exchange(self, conn):
        """Read one request, have the app answer it and write the answer out.

        Returns whether the connection carries another request. A response
        that takes the connection over leaves its function in
        ``conn.takeover`` (and the connection is not kept for HTTP). One
        coroutine does all three, so a request in flight holds one frame.
        """
        app = self.app
        while True:
            start, end = find_head(conn.buf, conn.pos, app.max_line, app.max_header_bytes)
            conn.pos = start
            if end >= 0:
                break
            await conn._fill()
        conn.deadline = None
        conn.pos = end + 4
        method, target, version, headers, length = parse_head(
            conn.buf[start:end + 2], app.max_headers)
        expect_continue = check_request(version, headers)
        body = None
        if length is not None:
            from .body import Body
            body = Body(conn, length, app.max_header_bytes,
                        conn.send_continue if expect_continue else None)
        resp, mode, keep = await app.handle(method, target, version, headers, body,
                                            conn.client, not self.closing)
        conn.served += 1
        content = resp.body
        head = format_head(resp.status, resp.headers.items(), resp.cookies)
        if not isinstance(content, (bytes, bytearray, memoryview)):  # a stream
            from .body import send_stream, close_stream
            await conn.write(head)
            if mode == NO_BODY:
                await close_stream(content)
            else:
                await send_stream(conn.write, content, mode == CHUNKED, app.stream_chunk_size)
        elif mode == NO_BODY or not content:
            await conn.write(head)
        elif len(content) >= 1024:  # not worth copying into one buffer
            await conn.write(head)
            await conn.write(content)
        else:
            await conn.write(head + content)
        if resp.takeover is not None:
            conn.takeover = resp.takeover
            return False
        if keep and body is not None:
            keep = await body.discard(app.max_body)
        conn.wait(app.keepalive_timeout)
        return keep
