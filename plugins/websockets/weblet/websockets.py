"""weblet-websockets: WebSocket (RFC 6455) endpoints, broadcasting to many clients, callbacks.

Example::

    from weblet import App
    from weblet.websockets import websocket

    app = App()

    @app.route('/echo')
    @websocket()
    async def echo(req, ws):
        async for message in ws:      # str for text, bytes for binary
            await ws.send(message)
"""
import binascii
import hashlib

import asyncio

from weblet import Response, HTTPError, call

_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
_PING = b'\x89\x00'
# UTF-8 that MicroPython's bytes.decode accepts but RFC 3629 forbids, as
# (lead byte, lowest, highest second byte) triples: overlong forms, surrogates,
# code points past U+10FFFF; the empty ranges are lead bytes never valid.
_SECOND = (b'\xe0\xa0\xbf\xed\x80\x9f\xf0\x90\xbf\xf4\x80\x8f'
           b'\xc0\x01\x00\xc1\x01\x00\xf5\x01\x00\xf6\x01\x00\xf7\x01\x00')


def _utf8(data):
    """How many bytes at the end of ``data`` begin an unfinished character; -1 if not UTF-8."""
    n = len(data)
    i = n - 1
    while i > 0 and i > n - 4 and data[i] & 0xc0 == 0x80:
        i -= 1
    tail = 0
    if n and data[i] >= 0xc0 and n - i < (2 if data[i] < 0xe0 else 3 if data[i] < 0xf0 else 4):
        tail = n - i
        if not 0xc2 <= data[i] <= 0xf4:
            return -1
    try:
        data[:n - tail].decode()
    except UnicodeError:
        return -1
    for k in range(0, 27, 3):
        lead = _SECOND[k:k + 1]
        j = data.find(lead)
        while 0 <= j < n - 1:
            if not _SECOND[k + 1] <= data[j + 1] <= _SECOND[k + 2]:
                return -1
            j = data.find(lead, j + 1)
    return tail


def _unmask(data, mask, offset):
    # One big-integer XOR runs at C speed on both interpreters, unlike a loop over bytes.
    n = len(data)
    mask = mask[offset & 3:] + mask[:offset & 3]
    return (int.from_bytes(data, 'big')
            ^ int.from_bytes((mask * (n // 4 + 1))[:n], 'big')).to_bytes(n, 'big')


def _frame(message, opcode=0):
    """``(head, payload)`` of an unmasked frame: str is text, bytes binary, unless ``opcode``."""
    if isinstance(message, str):
        message = message.encode()
        opcode = opcode or 1
    elif not isinstance(message, (bytes, bytearray)):
        _bad('message', type(message))
    n = len(message)
    head = bytes((0x80 | (opcode or 2), n if n < 126 else 126 if n < 65536 else 127))
    if n > 125:
        head += n.to_bytes(2 if n < 65536 else 8, 'big')
    return head, message


def _valid(code):
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _bad(name, value, why='not allowed'):
    raise ValueError('%s=%r: %s' % (name, value, why))


def _tokens(value):
    """The comma-separated tokens of a header value, stripped, in lower case."""
    return [token.strip() for token in (value or '').lower().split(',')]


def _site(value, port):
    """``host[:port]`` in lower case, with ``port`` (``':80'``) added if it names none."""
    value = value.lower()
    # The last colon begins a port unless it is inside an IPv6 literal: "[::1]".
    return value if value.rfind(':') > value.rfind(']') else value + port


def _same_origin(origin, host):
    """Whether ``Origin`` (scheme://host[:port]) names the server the ``Host`` header names."""
    scheme, sep, rest = origin.partition('://')
    port = {'http': ':80', 'https': ':443'}.get(scheme.lower())
    # Origin "null" (sandboxed pages, file://) and other schemes never match.
    return bool(sep and port and host) and _site(rest, port) == _site(host, port)


class WebSocket:
    """One open WebSocket, as a :func:`websocket` handler gets it.

    Iterate it with ``async for`` to receive messages (``str`` for text,
    ``bytes`` for binary); the loop ends when the connection closes. Pings
    are answered and the peer's close is seen while a task iterates, so
    keep one task reading. Attributes: ``request`` (the upgrade
    :class:`~weblet.Request`), ``protocol`` (the subprotocol chosen, or
    ``None``), ``closed`` (a close frame was sent or received, or the
    connection is gone), ``close_code`` and ``close_reason`` (of the close
    frame that began the closing handshake; ``1005`` if it had no code,
    ``1006`` if the connection dropped without one).

    Example::

        async for message in ws:
            if message == 'bye':
                await ws.close(1000, 'bye')
            else:
                await ws.send(message)
    """

    close_code = close_reason = None
    closed = False
    _done = _quiet = False  # _done: nothing more to read
    _lock = _task = _queue = _sender = None

    def __aiter__(self):
        return self

    async def send(self, message):
        """Send ``message``: a ``str`` as a text frame, ``bytes`` as a binary frame.

        :raises OSError: once the WebSocket is closed.
        """
        await self._write(*_frame(message))

    async def ping(self, data=b''):
        """Send a ping with up to 125 bytes of ``data``; the peer answers with a pong."""
        if len(data) > 125:
            _bad('data', data)
        await self._write(*_frame(data, 9))

    async def close(self, code=1000, reason=''):
        """Start (or finish) the closing handshake and wait for the peer's close frame.

        :param code: the status code: ``1000`` (normal), ``1001`` (going
            away), ``1008`` (policy violation), ``4000``-``4999`` (yours)...
        :param reason: a short text, at most 123 bytes of UTF-8.
        """
        if not isinstance(code, int) or not _valid(code):
            _bad('code', code)
        payload = code.to_bytes(2, 'big') + reason.encode()
        if len(payload) > 125:
            _bad('reason', reason)
        if not self.closed:
            self.closed = True
            self.close_code = code
            self.close_reason = reason
            try:
                await self._write(*_frame(payload, 8))
            except OSError:
                self._done = True
        # Wait for the peer's answer, unless another task is reading (it gets it).
        if not self._done and asyncio.current_task() is self._task:
            try:
                await asyncio.wait_for(self.__anext__(), self.request.app.request_timeout)
            except (asyncio.TimeoutError, StopAsyncIteration):
                pass
            self._done = True

    async def _write(self, head, payload=b''):
        if self._lock is None:  # made on first use: an idle WebSocket needs none
            self._lock = asyncio.Lock()
        await self._lock.acquire()
        try:
            if self.closed and head[0] != 0x88:  # checked under the lock: nothing after a close
                raise OSError('closed')
            # One write per frame: a separate small write of the head meets
            # Nagle's algorithm and a delayed ACK (40 ms a message).
            await self._conn.write(head + payload)
        finally:
            self._lock.release()

    async def __anext__(self):
        """The next message; fails the connection (close 1002, 1007, 1009) on bad input."""
        conn = self._conn
        data = None  # the message being received, sized frame by frame
        kind = code = 0
        carry = b''  # a text message's bytes of a character not yet complete
        try:
            while not (code or self._done):
                # An idle WebSocket waits here, in conn.read: the shallowest await.
                head = await conn.read(2)
                if len(head) < 2:
                    head += await conn.read(1)
                self._quiet = False
                opcode = head[0] & 15
                n = head[1] & 127
                code = 1002
                if head[0] & 0x70 or not head[1] & 0x80 or 2 < opcode < 8 or opcode > 10:
                    break  # reserved bits or opcodes, or an unmasked frame
                if opcode > 7:
                    if n > 125 or not head[0] & 0x80:
                        break
                elif (opcode == 0) == (data is None):
                    break  # a continuation without a message, or a message inside one
                code = 0
                if n > 125:
                    n = int.from_bytes(await conn.readexactly(2 if n == 126 else 8), 'big')
                if opcode < 8:
                    if opcode:
                        kind = opcode
                        data = bytearray()
                    offset = len(data)
                    if offset + n > self._ep.max_message:  # before reading it
                        code = 1009
                        break
                    # One buffer per message, grown once per frame: many small
                    # pieces would scatter over a MicroPython heap and fragment it.
                    data.extend(bytes(n))
                mask = await conn.readexactly(4)
                if opcode > 7:
                    payload = _unmask(await conn.readexactly(n), mask, 0) if n else b''
                    if opcode == 9 and not self.closed:
                        await self._write(*_frame(payload, 10))
                    elif opcode == 8:  # answer the close (1002, 1007 if invalid)
                        self._done = True
                        code = int.from_bytes(payload[:2], 'big') if n > 1 else 1005
                        if n == 1 or n and not _valid(code):
                            await self.close(1002)
                        elif _utf8(payload[2:]):
                            await self.close(1007)
                        elif not self.closed:
                            await self.close(1000 if code == 1005 else code)
                            self.close_code = code  # the peer's
                            self.close_reason = payload[2:].decode()
                        code = 0
                    continue
                start = offset
                while offset < len(data) and not code:
                    chunk = _unmask(await conn.read(len(data) - offset), mask, offset - start)
                    data[offset:offset + len(chunk)] = chunk
                    offset += len(chunk)
                    if kind == 1:
                        carry += chunk
                        tail = _utf8(carry)
                        carry = carry[len(carry) - tail:]
                        if tail < 0:
                            code = 1007
                if head[0] & 0x80 and not code:
                    if carry:
                        code = 1007
                        break
                    message = data.decode() if kind == 1 else bytes(data)
                    data = None
                    if not self.closed:  # after our close frame, messages are dropped
                        return message
        except (EOFError, OSError):
            self._abort()
        if code:
            self._done = True
            await self.close(code)
        raise StopAsyncIteration

    def _abort(self):
        """Mark the connection gone; from another task, also end it (a dead or slow peer)."""
        self._done = self.closed = True
        self.close_code = self.close_code or 1006
        if self._task is not asyncio.current_task():
            self._task.cancel()

    def _post(self, frame, limit):
        """Queue ``frame`` for a task that sends it; past ``limit`` queued, drop the peer."""
        if self._queue is None:
            self._queue = [frame]
            self._sender = asyncio.create_task(self._flush())
        elif len(self._queue) >= limit:
            self._abort()
        else:
            self._queue.append(frame)

    async def _flush(self):
        try:
            while self._queue:
                await self._write(self._queue.pop(0))
        except OSError:
            if not self.closed:  # a closing WebSocket just drops what is queued
                self._abort()
        finally:
            self._queue = self._sender = None

    async def _run(self, conn):
        """The connection take-over: run the handler, then finish the closing handshake."""
        self._conn = conn
        self._task = asyncio.current_task()
        endpoint = self._ep
        req = self.request
        endpoint.sockets.add(self)
        if endpoint.ping_interval and endpoint.pinger is None:
            endpoint.pinger = asyncio.create_task(endpoint._ping())
        try:
            await endpoint.handler(req, self, **req.params)
            await self.close()
        except OSError:  # the connection is gone
            pass
        except asyncio.CancelledError:  # the server is shutting down: say "going away"
            if not self.closed:
                self.closed = True
                self.close_code = 1001
                try:
                    await self._write(*_frame(b'\x03\xe9', 8))
                except (OSError, asyncio.CancelledError):
                    pass
            raise
        except Exception as exc:  # the handler failed: log it, tell the peer
            req.app.log('ERROR', 'WebSocket %r: %r' % (req.path, exc))
            await self.close(1011)
        finally:
            self._abort()
            endpoint.sockets.discard(self)
            if self._sender:
                self._sender.cancel()
            if endpoint.on_close:  # once the close code is final
                await call(endpoint.on_close, self)


def websocket(protocols=None, max_message=4096, origins=None, ping_interval=None):
    """Decorate ``async def handler(req, ws)`` to serve WebSockets on its route.

    The handshake must be an HTTP/1.1 GET whose ``Upgrade`` header has the
    token ``websocket`` and ``Connection`` the token ``upgrade``, with
    ``Sec-WebSocket-Version: 13`` and a valid ``Sec-WebSocket-Key``, else
    the answer is 400 (426 for another version). The handler gets a
    :class:`WebSocket` (and the route's parameters). When it returns, the
    WebSocket is closed with code 1000; if it raises, with code 1011.

    :param protocols: subprotocols the endpoint speaks, in order of
        preference (the first one the client also offers is chosen), or a
        plain ``fn(offered_list)`` returning one of them or ``None``.
    :param max_message: the largest message accepted, in bytes; a larger
        one closes the connection with code 1009.
    :param origins: which pages may connect, by their ``Origin`` header
        (403 for others). ``None`` (the default): only pages of the server
        itself (the ``Origin``'s host and port are the ``Host`` header's)
        and clients that send no ``Origin``. A list: exactly those values,
        e.g. ``['http://192.168.4.1']``, and clients without an ``Origin``
        only if the list holds ``None``. ``'*'``: any page (no check).
    :param ping_interval: seconds between pings; a peer that sends nothing
        (not even the pong) for a whole interval after a ping is dropped.

    Example::

        @app.route('/chat')
        @websocket(protocols=['chat-v1'], max_message=1024, ping_interval=20)
        async def chat(req, ws):
            async for message in ws:
                await ws.send(message)
    """
    return WebSockets(None, protocols, max_message, origins, ping_interval)


class Broadcast:
    """Send each message to many WebSockets; slow or dead clients are dropped.

    A message is framed once and queued for each receiver; a receiver with
    ``max_queue`` messages still unsent is closed and removed, so it never
    holds up the others. Closed WebSockets leave by themselves.

    :param max_queue: messages a receiver may have waiting.

    Example::

        hub = Broadcast()

        @app.route('/live')
        @websocket()
        async def live(req, ws):
            hub.add(ws)
            async for message in ws:  # keep reading: answers pings, sees the close
                pass

        await hub.send('temp=21.5')   # from a sensor task
    """

    def __init__(self, max_queue=8):
        if not isinstance(max_queue, int) or max_queue <= 0:
            _bad('max_queue', max_queue)
        self.max_queue = max_queue
        self._sockets = set()

    def add(self, ws):
        """Add WebSocket ``ws`` to the receivers; returns it."""
        self._sockets.add(ws)
        return ws

    def discard(self, ws):
        """Remove ``ws`` if it is a receiver."""
        self._sockets.discard(ws)

    def __len__(self):
        self._sockets = {ws for ws in self._sockets if not ws.closed}
        return len(self._sockets)

    async def send(self, message):
        """Queue ``message`` (str: text, bytes: binary) for every receiver; never waits on one.

        :returns: the number of receivers left.
        """
        frame = b''.join(_frame(message))
        for ws in self._sockets:
            if not ws.closed:
                ws._post(frame, self.max_queue)
        return len(self)


class WebSockets:
    """A plugin serving WebSockets at ``path`` through callbacks, as in MicroWebSrv2.

    Callbacks may be plain or ``async`` functions; send with ``await
    ws.send(...)`` from any task. The handshake rules and the options are
    those of :func:`websocket` (which makes the same object, without a path).

    :param path: the route, e.g. ``'/ws'``.
    :param on_accept: ``fn(ws)`` once a client is connected.
    :param on_text: ``fn(ws, str)`` for each text message.
    :param on_binary: ``fn(ws, bytes)`` for each binary message.
    :param on_close: ``fn(ws)`` once the connection is closed.
    :param select_protocol: a plain ``fn(offered_list)`` returning the
        subprotocol to use, or ``None``.
    :param max_message: as for :func:`websocket`; so are ``origins`` and
        ``ping_interval``.

    Example::

        async def on_text(ws, text):
            await ws.send(text.upper())

        app.use(WebSockets('/ws', on_text=on_text))
    """

    handler = pinger = on_accept = on_text = on_binary = on_close = None

    def __init__(self, path, select_protocol=None, max_message=4096, origins=None,
                 ping_interval=None, **callbacks):
        if origins is not None and origins != '*':
            if not isinstance(origins, (list, tuple)):
                _bad('origins', origins, "not None, '*' or a list")
            for origin in origins:  # as browsers send it: no path, not even "/"
                if origin is not None and (not isinstance(origin, str) or '://' not in origin
                                           or '/' in origin.partition('://')[2]):
                    _bad('origins', origins, "%r is not 'http://host:port' or None" % (origin,))
        for name, value, ok in (
                ('protocols', select_protocol, select_protocol is None
                 or callable(select_protocol) or isinstance(select_protocol, (list, tuple))),
                ('max_message', max_message, isinstance(max_message, int) and max_message > 0),
                ('ping_interval', ping_interval, ping_interval is None
                 or isinstance(ping_interval, (int, float)) and ping_interval > 0)):
            if not ok:
                _bad(name, value)
        for name, fn in callbacks.items():
            if name not in ('on_accept', 'on_text', 'on_binary', 'on_close') or not callable(fn):
                _bad(name, fn)
            setattr(self, name, fn)
        self.path = path
        self.protocols = select_protocol
        self.max_message = max_message
        self.origins = origins
        self.ping_interval = ping_interval
        self.sockets = set()  # the open WebSockets

    def install(self, app):
        self.handler = self._serve
        app.route(self.path, name=self.path)(self)

    def __call__(self, arg, **params):
        if self.handler is None:  # websocket(...) decorating a handler
            self.handler = arg
            self.__name__ = arg.__name__  # the route's name
            return self
        return self._upgrade(arg)

    def _upgrade(self, req):
        get = req.headers.get
        version = get('sec-websocket-version')
        key = get('sec-websocket-key', '')
        try:
            ok = len(key) == 24 and len(binascii.a2b_base64(key)) == 16
        except ValueError:
            ok = False
        # Tokens, not substrings: "Upgrade: websocketx" or "Connection:
        # notupgradeable" is no handshake. HTTP/1.0 has no upgrade (RFC 9110
        # section 7.8 makes servers ignore Upgrade there): 400, as for any
        # request that is not a handshake (RFC 6455 section 4.2.1).
        if (not ok or req.method != 'GET' or version is None or req.http_version != '1.1'
                or 'websocket' not in _tokens(get('upgrade'))
                or 'upgrade' not in _tokens(get('connection'))):
            raise HTTPError(400)
        if version != '13':
            error = HTTPError(426)
            error.headers = {'sec-websocket-version': '13'}
            raise error
        origin = get('origin')
        allowed = self.origins
        # By default a browser page may connect only from the device's own
        # origin: another site's page would otherwise act with the user's
        # cookies (cross-site WebSocket hijacking). Clients without an Origin
        # are not browsers, and a page cannot leave it out.
        if allowed is None:
            refused = origin is not None and not _same_origin(origin, get('host'))
        else:
            refused = allowed != '*' and origin not in allowed
        if refused:
            raise HTTPError(403)
        offered = get('sec-websocket-protocol', '').replace(' ', '').split(',')
        protocols = self.protocols
        if callable(protocols):
            protocols = [protocols(offered)] if offered[0] else ()
        protocol = None
        for name in protocols or ():
            if name in offered:
                protocol = name
                break
        accept = binascii.b2a_base64(hashlib.sha1(key.encode() + _GUID).digest())[:-1]
        resp = Response(None, 101, {'upgrade': 'websocket', 'connection': 'upgrade',
                                    'sec-websocket-accept': accept.decode()})
        if protocol:
            resp.headers['sec-websocket-protocol'] = protocol
        ws = WebSocket()
        ws._ep = self
        ws.request = req
        ws.protocol = protocol
        resp.takeover = ws._run
        return resp

    async def _ping(self):
        """One task pings every open WebSocket; one silent for a whole interval is dropped."""
        try:
            while self.sockets:
                await asyncio.sleep(self.ping_interval)
                for ws in list(self.sockets):
                    if ws._quiet:
                        ws._abort()
                    else:
                        ws._quiet = True
                        ws._post(_PING, 16)
        finally:
            self.pinger = None

    async def _serve(self, req, ws):
        if self.on_accept:
            await call(self.on_accept, ws)
        async for message in ws:
            fn = self.on_text if isinstance(message, str) else self.on_binary
            if fn:
                await call(fn, ws, message)
