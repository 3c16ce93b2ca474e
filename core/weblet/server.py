"""The asyncio connection loop: accepting, deadlines, keep-alive, pipelining,
the concurrency cap, and writing out what the protocol layer decided.

It knows the application only through :meth:`weblet.App.handle`, which it
calls with each parsed request head, and the app's limits and ``log``. How a
response is framed is :func:`weblet.protocol.response_framing`'s decision,
made inside ``handle``; this module carries it out. Starting and stopping a
Server is :mod:`weblet.lifecycle`'s.
"""
from .platform import MICROPYTHON, asyncio, ticks_ms, ticks_add, ticks_diff
from .protocol import (HTTPError, CHUNKED, NO_BODY, check_request, find_head, format_head,
                       parse_head, reason)

if MICROPYTHON:
    # Here, not where it is used: MicroPython looks for a socket.py on its path
    # at each import of the built-in (six failed stat calls), and Connection.client
    # is read for every request.
    import socket

CancelledError = asyncio.CancelledError
READ_SIZE = 256  # bytes per socket read: a request head usually fits
# MicroPython reads into this one buffer, for every connection, and copies out
# what arrived before anything else runs: a read then allocates the bytes that
# came, not a READ_SIZE block that a fragmented heap may not have. At 21K the
# hello-world load failed for want of 257 contiguous bytes with 4.8 KB free.
SCRATCH = memoryview(bytearray(READ_SIZE)) if MICROPYTHON else None
MIN_RATE = 512  # bytes a second a request body must come at, after a first timeout
# A connection that has sent nothing for this long in the middle of a request
# gives its slot up to a newcomer when every slot is taken. A real client sends
# a head in one go and a body without pauses; slow-header and slow-body
# attacks wait seconds between sends.
STALLED_MS = 200
# The answer when the heap has no room even to format one: made in advance.
OUT_OF_MEMORY = (b'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8'
                 b'\r\nContent-Length: 14\r\nConnection: close\r\n\r\nout of memory\n')


# Exceptions caught together are named by tuples made once, here, and the paths
# that handle a MemoryError catch it on its own: `except (A, B):` builds its
# tuple each time an exception is matched against it, and in a full heap that
# raised a MemoryError of its own out of the handler meant to survive one (the
# MemoryError injection test, tests/server/test_faults.py).
PEER_GONE = (OSError, EOFError)
CLOSING = (OSError, CancelledError, KeyError)  # a reset peer, or shutdown cancelling us


def log_safely(app, level, text):
    """``app.log(level, text)``, unless the heap has no room for it: the paths
    that handle a MemoryError must not raise one themselves."""
    try:
        app.log(level, text)
    except MemoryError:
        pass


def log_failure(app, conn, exc):
    """Log that ``conn`` failed with ``exc`` (a streamed body or a take-over raised
    it), unless the heap has no room for the line."""
    try:
        app.log('ERROR', 'connection from %s failed: %r' % (conn.client, exc))
    except MemoryError:
        pass


def close_now(writer):
    """Close a connection at once, without a coroutine: when the heap has no room for one."""
    if MICROPYTHON:
        writer.s.close()  # what asyncio's wait_closed does there
        writer.get_extra_info('tcp').close()  # under TLS, the socket below
    else:
        writer.transport.abort()


def expire(conn, answer):
    """Cancel ``conn``'s task; with ``answer``, it answers 408 if it still can.

    In this order, as storing ``expired`` the first time may raise MemoryError
    (the instance grows): the connection is cancelled whatever happens.
    """
    conn.task.cancel()
    conn.deadline = None
    if answer:
        conn.expired = True


def open_body(conn, length, expect_continue, app):
    """The :class:`weblet.body.Body` of a request that has one (``length`` as
    :func:`weblet.protocol.parse_head` gives it); its time starts now."""
    from .body import Body
    conn.allowance = ticks_add(ticks_ms(), int(app.request_timeout * 1000))
    return Body(conn, length, app.max_header_bytes,
                conn.send_continue if expect_continue else None)


class Connection:
    """One client connection: buffered reads over the asyncio stream, writes, and its deadline.

    ``deadline`` is the tick (``ticks_ms``) by which the client must have done
    what the server waits for, and ``None`` while the application runs (a
    small int: setting it allocates nothing); the server's watchdog cancels the
    connection's task once it passes. A body read, like a write, waits
    ``timeout`` seconds at most for each piece, and a body must come at
    MIN_RATE bytes a second or faster after its first ``timeout`` (``allowance``
    is the tick its time runs out). ``begun`` is the tick the current
    request's first bytes came. A handler that takes the connection over
    (see :attr:`weblet.Response.takeover`) uses :meth:`read`,
    :meth:`readexactly`, :meth:`readline`, :meth:`write` and ``client``; its
    reads have no deadline.
    """

    # Defaults live on the class: an instance stores only what changes.
    buf = b''
    pos = 0
    task = deadline = takeover = allowance = None
    expired = sent = has_slot = False
    idle = True
    served = begun = 0

    def __init__(self, stream, writer, timeout):
        self.stream = stream
        self.writer = writer
        self.timeout = timeout  # seconds each write, and each read of a body, may take
        self.buf = b''
        if MICROPYTHON:
            try:  # no Nagle delay between a response head and its body
                writer.s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
            except (AttributeError, OSError, TypeError):  # a TLS socket, or a port without it
                pass

    @property
    def client(self):
        """The peer's ``(address, port)``, or ``None`` if unknown.

        Read from what the stream keeps anyway: stored here too, it would cost
        every idle connection 32 B more on the 32-bit port.
        """
        try:
            addr = self.writer.get_extra_info('peername')
            return addr[0], addr[1]
        except (KeyError, AttributeError, TypeError, OSError):
            return None

    def wait(self, seconds):
        """Start a deadline ``seconds`` from now for what the client must do next."""
        self.deadline = ticks_add(ticks_ms(), int(seconds * 1000))

    async def _fill(self):
        # A read for a request's body must bring bytes within the timeout, and
        # no later than the body's allowance: a timeout's grace, then each byte
        # buys 1/MIN_RATE s (Apache's mod_reqtimeout rule), so a client that
        # trickles a byte every few seconds loses its slot after one timeout,
        # where each read on its own would keep it for ever. A head has its
        # own deadline running already, and a take-over's reads have none.
        timed = self.deadline is None and self.takeover is None
        if timed:
            self.wait(self.timeout)
            if self.allowance is not None and ticks_diff(self.deadline, self.allowance) > 0:
                self.deadline = self.allowance
        # The next bytes the peer sends, up to READ_SIZE; b'' once it has closed.
        # Read here, not in a coroutine of its own: an idle WebSocket waits here,
        # and holds 64 B less (32-bit port).
        try:
            if MICROPYTHON:
                n = None
                while n is None:  # None: a TLS record is not complete yet
                    n = await self.stream.readinto(SCRATCH)
                data = bytes(SCRATCH[:n])
            else:
                data = await self.stream.read(READ_SIZE)
        except OSError:  # reset: the peer is gone, as when it closes (EOFError below)
            data = b''
        if timed:
            self.deadline = None
            if self.allowance is not None:
                self.allowance = ticks_add(self.allowance, len(data) * 1000 // MIN_RATE)
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
        if len(self.buf) <= self.pos:
            # All read: let the old bytes go before waiting. A WebSocket waits here
            # while idle, and kept its upgrade request's head (224 B on the 32-bit
            # port). Written this way round, no stale slot of this frame's stack
            # still points at them (MicroPython's collector scans every slot).
            self.buf = b''
            self.pos = 0
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

    def send(self, data):
        """Hand ``data`` to the socket without waiting; True if it has all gone.

        On MicroPython the socket takes what it can at once and the stream
        keeps the rest for :meth:`drain`; CPython's stream keeps all of it
        until then (False).
        """
        self.sent = True
        self.writer.write(data)
        return MICROPYTHON and not self.writer.out_buf

    async def write(self, data):
        """Send ``data``; a peer that stops reading meets the request timeout.

        It yields to other tasks once even when the socket took everything,
        as asyncio's drain does, so that a loop of writes cannot starve them.
        """
        self.send(data)
        await self.drain()

    async def drain(self):
        """Wait until the socket has taken what :meth:`send` left (a request timeout at most)."""
        self.wait(self.timeout)
        await self.writer.drain()
        self.deadline = None

    async def send_continue(self):
        """Tell a client that sent ``Expect: 100-continue`` to send its body.

        An interim response: the request's answer is still to come. A client
        gone meanwhile (the write fails) is ``EOFError``, as a read of its body
        would find: no fault of the handler that asked for the body.
        """
        try:
            await self.write(b'HTTP/1.1 100 Continue\r\n\r\n')
        except OSError:
            raise EOFError()
        self.sent = False


class Server:
    """Serves one app on a listening socket; made by ``App.start``, stopped by
    ``App.shutdown`` (both in :mod:`weblet.lifecycle`).

    ``stopped`` is True once ``App.shutdown`` has finished; :meth:`wait_closed`
    waits for that.
    """

    # Set by lifecycle.start: the listening socket (MicroPython) or asyncio's
    # server, the accept loop's task (MicroPython) and the watchdog's task.
    listener = accepter = watchdog = None
    closing = stopped = False
    active = 0
    _slot_freed = _closed = None

    def __init__(self, app):
        self.app = app
        # The open connections, as the keys of a dict, not a set: MicroPython's
        # set grows unsafely when the heap is full (py/map.c, mp_set_rehash
        # records its new size before allocating it), and a MemoryError there
        # left it reading past its table: a burst of connections in a 78K heap
        # found freed objects in it. Its dict grows safely.
        self.connections = {}

    async def wait_closed(self):
        """Wait until ``App.shutdown`` has finished (as ``asyncio.Server.wait_closed``).

        It waits for the watchdog's task, which ends then: nothing is made for it.
        """
        await self.watchdog

    @property
    def closed(self):
        """An ``asyncio.Event`` set once ``App.shutdown`` has finished.

        Made when first asked for: an app that only uses :meth:`wait_closed`
        does not load asyncio's Event (560 B of heap on the 32-bit frozen build).
        """
        if self._closed is None:
            self._closed = asyncio.Event()
            if self.stopped:
                self._closed.set()
        return self._closed

    def accept(self, listener, ssl, stream_class):
        """MicroPython's accept loop (a generator the scheduler runs as a coroutine),
        making a ``stream_class`` (asyncio's StreamReader) of each connection.

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
                if isinstance(address, (bytes, bytearray)):  # the unix port: a raw sockaddr
                    # Made readable once here, not for each request (27K instructions).
                    address = socket.sockaddr(address)[1:]
                    address = (socket.inet_ntop(2 if len(address[0]) == 4 else 10, address[0]),
                               address[1])
                # 'tcp': the socket under TLS, closed by serve too, since a TLS
                # socket whose handshake failed lets go of it without closing it.
                stream = stream_class(client, {'peername': address, 'tcp': tcp})
                asyncio.create_task(self.serve(stream, stream))
            except MemoryError:
                if client is not None:
                    client.close()
                log_safely(self.app, 'WARN', 'out of memory: a connection was refused')
            except OSError:
                if client is not None:
                    client.close()

    async def watch(self):
        """Cancel every connection whose deadline has passed: one timer for all.
        It ends once the server has stopped (``stopped``)."""
        while not self.stopped:
            try:
                await asyncio.sleep(0.2)
                now = ticks_ms()
                for conn in self.connections:
                    if conn.deadline is not None and ticks_diff(now, conn.deadline) > 0:
                        expire(conn, True)
            except MemoryError:  # the watchdog outlives a full heap: it looks again next time
                pass

    def _free_slot(self):
        """Cancel the connection whose slot is worth least to a newcomer, if one is
        worth less: an idle keep-alive connection, or else, among those waiting
        on their client, the one furthest behind with its request: a head not
        whole STALLED_MS after it began, or a body that has come slower than
        MIN_RATE (slow headers, a trickled body: it gets 408). ESP-IDF's server
        purges its least recently used session in the same spirit. True if one
        was cancelled: the caller takes its slot.
        """
        now = ticks_ms()
        grace = int(self.app.request_timeout * 1000)
        victim = due = None
        for other in self.connections:
            if not other.has_slot or other.deadline is None or other.sent:
                continue  # the app has it, it is answered, or it is ending
            if other.idle and other.served:
                victim = other
                break
            # When it should have got where it is: at its start for a head; for
            # a body, when the bytes it has sent were due at MIN_RATE.
            since = (other.begun if other.allowance is None
                     else ticks_add(other.allowance, -grace))
            if ticks_diff(now, since) > STALLED_MS and (
                    victim is None or ticks_diff(since, due) < 0):
                victim, due = other, since
        if victim is None:
            return False
        expire(victim, not victim.idle)  # a request it left unfinished gets 408
        return True

    async def serve(self, reader, writer):
        """Serve one connection until it closes (asyncio's client-connected callback)."""
        try:
            conn = Connection(reader, writer, self.app.request_timeout)
            conn.task = asyncio.current_task()
            self.connections[conn] = None  # growing it allocates too
        except MemoryError:  # not even room to start: drop this one connection
            close_now(writer)
            return
        status = message = None  # what to answer before closing, if anything
        try:
            # One of max_connections slots: taken over on arrival from a
            # connection worth less (see _free_slot; this one counts the slot
            # as its own at once, before the other lets go of it, so that none
            # waiting takes it first), else waited for, twice request_timeout
            # at most (the watchdog ends the wait). When as many wait as are
            # served, one more is turned away at once: a flood cannot fill the
            # heap with waiting connections.
            conn.wait(self.app.request_timeout * 2)
            if self.active >= self.app.max_connections and not self._free_slot():
                while self.active >= self.app.max_connections:
                    if len(self.connections) - self.active > self.app.max_connections:
                        raise HTTPError(503, 'too many connections')
                    if self._slot_freed is None:
                        self._slot_freed = asyncio.Event()
                    await self._slot_freed.wait()
            # In this order: storing has_slot the first time may raise MemoryError
            # (the instance grows), and then the slot must not be counted taken.
            conn.has_slot = True
            self.active += 1
            conn.begun = ticks_ms()
            conn.wait(self.app.request_timeout)
            while not self.closing:
                conn.sent = False
                conn.idle = conn.pos >= len(conn.buf)
                if conn.idle:
                    # Wait for the next request here, not deeper, and without
                    # the last one's bytes: an idle connection then holds only
                    # this coroutine's frame. This is Connection._fill's read
                    # written out, to spare its frame too: on the 32-bit port an
                    # idle connection holds 622 B, 766 B with it, 750 B with
                    # the last request's bytes.
                    conn.buf = b''
                    if MICROPYTHON:
                        n = None
                        while n is None:
                            n = await reader.readinto(SCRATCH)
                        conn.buf = bytes(SCRATCH[:n])
                    else:
                        conn.buf = await reader.read(READ_SIZE)
                    if not conn.buf:
                        break
                    conn.begun = ticks_ms()
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
                status = 408 if conn.has_slot else 503
        except HTTPError as e:
            status, message = e.status, e.message
        except MemoryError:
            conn.buf = b''  # set in __init__: storing it here never allocates
            status = 503
            message = 'out of memory'  # a constant: storing it allocates nothing
            if conn.sent:  # too late for a 503: the connection just closes
                log_safely(self.app, 'WARN', 'out of memory while answering')
        except PEER_GONE:
            pass
        except Exception as e:  # a streamed body or a take-over failed: log it, close
            log_failure(self.app, conn, e)
        # The connection ends here, whatever ended it: every exception but
        # KeyboardInterrupt and SystemExit (which end the process) is caught
        # above. Not a finally clause, which would make this frame, held by
        # every open connection, 16 B larger (144 B on the 32-bit port).
        # Every step here must work in a full heap too (an answer made in
        # advance, sockets closed without a coroutine), or the connection
        # would be lost with its socket still open.
        if status is not None:
            try:
                await self._send_error(conn, status, message)
            except MemoryError:
                if not conn.sent:
                    try:
                        writer.write(OUT_OF_MEMORY)
                    except Exception:
                        pass
        self.connections.pop(conn, None)
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
        except MemoryError:  # no room for wait_closed's frame
            close_now(writer)
        except CLOSING:
            pass

    async def _send_error(self, conn, status, message=None):
        """Answer a request that could not be read, just before the connection closes."""
        if conn.sent:
            return
        try:
            try:
                body = (message or '%d %s' % (status, reason(status))).encode() + b'\n'
                answer = ('HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n'
                          'Content-Length: %d\r\nConnection: close\r\n\r\n' % (
                              status, reason(status), len(body))).encode() + body
            except MemoryError:
                answer = OUT_OF_MEMORY
            conn.writer.write(answer)
            conn.wait(1)
            await conn.writer.drain()
            # Read what the client is still sending before closing: closing with
            # unread input resets the connection, and the client may lose the answer.
            conn.wait(0.5)
            for _ in range(256):
                conn.buf = b''  # what it sends is dropped
                conn.pos = 0
                await conn._fill()
        except MemoryError:  # closing follows either way
            pass
        except EOFError:  # it has closed: all read
            pass
        except CLOSING:
            pass
        conn.deadline = None

    async def _send_stream(self, conn, head, resp, mode):
        """Send a response whose body is a stream (see :class:`weblet.Response`)."""
        from .body import send_stream, close_stream
        await conn.write(head)
        if mode == NO_BODY:
            await close_stream(resp.body)
        else:
            length = resp.headers.get('content-length')  # only when framed by it
            await send_stream(conn, resp.body, mode == CHUNKED, self.app.stream_chunk_size,
                              None if length is None else int(length))

    async def _exchange(self, conn):
        """Read one request, have the app answer it and write the answer out.

        Returns whether the connection carries another request. A response
        that takes the connection over leaves its function in
        ``conn.takeover`` (and the connection is not kept for HTTP). One
        coroutine does all three, so a request in flight holds one frame.
        """
        # Its frame is made for each request: its locals are kept few enough that
        # it takes 128 B on the 32-bit port, not 144 (8 blocks of the heap, not 9).
        app = self.app
        while True:
            conn.pos, end = find_head(conn.buf, conn.pos, app.max_line, app.max_header_bytes)
            if end >= 0:
                break
            await conn._fill()
        conn.deadline = None
        method, target, version, headers, length = parse_head(
            conn.buf[conn.pos:end + 2], app.max_headers)
        conn.pos = end + 4
        expect_continue = check_request(version, headers)
        body = None if length is None else open_body(conn, length, expect_continue, app)
        resp, mode, keep = await app.handle(method, target, version, headers, body,
                                            conn.client, not self.closing)
        conn.served += 1
        content = resp.body
        head = format_head(resp.status, resp.headers, resp.cookies)
        if not isinstance(content, (bytes, bytearray, memoryview)):
            await self._send_stream(conn, head, resp, mode)
        elif mode != NO_BODY and len(content) >= 1024:  # not worth copying into one buffer
            await conn.write(head)
            await conn.write(content)
        elif not conn.send(head if mode == NO_BODY else head + content):
            # What the socket did not take at once. When it took it all, as it
            # does a small answer, nothing waits: the exchange ends without
            # yielding, so no request holds its frames and objects while other
            # connections run (the connection's next read yields to them). On
            # the 32-bit frozen build the hello load then needs about 1.5 KB less heap.
            await conn.drain()
        if resp.takeover is not None:
            conn.takeover = resp.takeover
            return False
        if body is not None:
            if keep:
                keep = await body.discard(app.max_body)
            # Set only for a request with a body: a connection that never gets
            # one keeps 12 attributes, whose table takes 48 B less than 13.
            conn.allowance = None
        conn.wait(app.keepalive_timeout)
        return keep
