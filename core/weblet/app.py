"""The application layer: App (routes, hooks, limits), Request and Response,
and the socket-free request path.

It knows nothing about sockets. :meth:`App.handle` takes a parsed request
head and its body and returns the :class:`Response` with its framing; the
server (:mod:`weblet.server`) writes that out, and anything else that has a
request without a socket (a test, an adapter) calls it the same way.
Registering (routes, mounts, plugins, error handlers) lives in
:mod:`weblet.setup`, starting and stopping in :mod:`weblet.lifecycle`: a
serving device has unloaded both.
"""
import json

from .platform import asyncio, call, format_exception, json_loads
from .protocol import HTTPError, Headers, has_control_chars, response_framing, wants_keep_alive
from .escaping import unquote
from .routing import FOUND, MOUNTED, NOT_FOUND, Router, add_converter


def abort(status, message=None):
    """Stop handling the request and answer with ``status``.

    :param status: an HTTP status code such as ``403``.
    :param message: optional body text.
    :raises HTTPError: always.
    """
    raise HTTPError(status, message)


class State:
    """Per-request storage for plugins, e.g. ``req.state.user``."""


# MicroPython before 1.26 closes whatever is still open at the end of its input:
# json.loads('{"a": ') is {} and json.loads('[1, [2]') is [1, [2]]. There, and only
# there, Request.json also asks forms.unfinished_json, which takes about as long as
# json.loads itself (unix port: 60 us for a 1 KB body of 80 strings). It lives in
# forms, loaded only then: here it cost every import of weblet 704 bytes of heap
# (unix port, .mpy), where this flag costs 96.
try:
    json.loads('{')
    _JSON_CLOSES_AT_END = True
except ValueError:
    _JSON_CLOSES_AT_END = False

class Request:
    """One HTTP request, as handlers and hooks see it.

    Attributes: ``method``, ``path`` (percent-decoded), ``query`` (the raw
    query string), ``headers`` (case-insensitive
    :class:`~weblet.protocol.Headers`), ``client`` (``(addr, port)``),
    ``params`` (route parameters), ``app``, ``http_version`` (``'1.1'`` or
    ``'1.0'``) and ``keep_alive``. ``args``, ``cookies``, ``state`` and
    ``stream`` are made the first time they are read, and kept;
    ``media_type`` is read from the headers each time.

    Example::

        @app.post('/upload')
        async def upload(req):
            with open('/data/fw.bin', 'wb') as f:
                while True:
                    chunk = await req.stream.read(512)
                    if not chunk:
                        break
                    f.write(chunk)
            return {'ok': True}
    """

    # Made on first use; an instance stores them only then.
    _args = _cookies = _state = _stream = _body = None

    def __init__(self, app, method, target, http_version, headers, stream=None, client=None):
        self.app = app
        self.method = method
        self.http_version = http_version
        self.headers = headers if isinstance(headers, Headers) else Headers.parsed(headers)
        if stream is not None:
            self._stream = stream
        self.client = client
        self.params = {}
        if not target.startswith('/'):  # not target[0]: MicroPython interns what it indexes
            from .forms import origin_form
            target = origin_form(target, method)
        path, _, self.query = target.partition('?')
        if '%' in path:
            path = unquote(path)
        self.path = path
        self.keep_alive = wants_keep_alive(http_version, headers)  # a dict: no lower-casing

    @property
    def args(self):
        """The query string's arguments, a :class:`~weblet.forms.MultiDict`
        (multi-valued: ``req.args.getlist('a')``)."""
        if self._args is None:
            from .forms import parse_query
            self._args = parse_query(self.query)
        return self._args

    @property
    def cookies(self):
        """The request's cookies as a dict."""
        if self._cookies is None:
            from .forms import parse_cookies
            self._cookies = parse_cookies(self.headers.get('cookie'))
        return self._cookies

    @property
    def state(self):
        """Per-request storage for plugins (a plain object): ``req.state.user = name``."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def stream(self):
        """The body as an async stream, chunked coding removed, for bodies of any
        size: ``await req.stream.read(n)``, ``b''`` at the end."""
        if self._stream is None:
            from .body import Body
            self._stream = Body(None, 0)
        return self._stream

    @property
    def media_type(self):
        """The ``Content-Type``'s media type, lower-case, without parameters:
        ``'application/json'`` for ``Application/JSON; charset=utf-8``, ``''``
        without one."""
        return self.headers.get('content-type', '').split(';')[0].strip().lower()

    async def body(self):
        """The whole body as bytes; ``HTTPError(413)`` past the app's ``max_body``."""
        if self._body is None:
            from .body import read_limited
            self._body = await read_limited(self.stream, self.app.max_body)
        return self._body

    async def text(self):
        """The body decoded as UTF-8 (``HTTPError(400)`` if it is not)."""
        try:
            return (await self.body()).decode()
        except UnicodeError:
            raise HTTPError(400, 'body is not UTF-8')

    async def json(self):
        """The body parsed as JSON (``HTTPError(400)`` if it is not valid JSON,
        or stops before its end; ``NaN`` and ``Infinity`` are not JSON). A
        number beyond a float's range, such as ``1e999``, is an infinite
        float, as Python's ``json`` makes it: check it if infinity matters."""
        text = await self.text()
        try:
            value = json_loads(text)
            if _JSON_CLOSES_AT_END:
                from .forms import unfinished_json
                if unfinished_json(await self.body()):
                    raise ValueError
        except ValueError:
            raise HTTPError(400, 'invalid JSON')
        return value

    async def form(self):
        """An urlencoded body as a :class:`~weblet.forms.MultiDict` (empty for other types)."""
        from .forms import MultiDict, parse_query
        if self.media_type != 'application/x-www-form-urlencoded':
            return MultiDict()
        return parse_query(await self.text())


class Response:
    """An HTTP response.

    :param body: ``str`` (sent as ``text/html; charset=utf-8``), ``bytes``
        (``application/octet-stream``), a dict or list (sent as JSON),
        ``None`` (no body), or a stream: a generator, an async generator or
        an object with ``readinto`` or ``read``, sent with chunked transfer
        coding on HTTP/1.1 unless a ``Content-Length`` header is set.
    :param status: the status code.
    :param headers: a dict of headers; ``resp.headers`` is a mutable,
        case-insensitive :class:`~weblet.protocol.Headers`.

    Set ``takeover`` to an ``async fn(connection)`` to own the connection
    once the response (head and body) is sent: the WebSocket upgrade does
    this. The server closes the connection when it returns. ``cookies`` is
    the list of ``Set-Cookie`` values added by :meth:`set_cookie`.

    Example::

        resp = Response('<p>saved</p>', 201, {'X-Id': '7'})
        resp.set_cookie('session', token, max_age=3600, http_only=True)
    """

    takeover = None
    cookies = ()  # Set-Cookie values, once set_cookie is called

    def __init__(self, body=b'', status=200, headers=None):
        self.status = status
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        content_type = 'application/octet-stream'
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            content_type = 'application/json'
        if isinstance(body, str):
            if 'json' not in content_type:
                content_type = 'text/html; charset=utf-8'
            body = body.encode()
        elif body is None:
            body = b''
        elif not isinstance(body, (bytes, bytearray, memoryview)) and not (
                hasattr(body, '__next__') or hasattr(body, '__anext__')
                or hasattr(body, 'read') or hasattr(body, 'readinto')):
            raise TypeError('Response(body=%r): not a str, bytes, dict, list or stream'
                            % type(body))
        if body != b'':
            self.headers.setdefault('Content-Type', content_type)
        self.body = body

    @classmethod
    def json(cls, obj, status=200, headers=None):
        """A JSON response of ``obj`` (any JSON-serialisable value)."""
        resp = cls(json.dumps(obj), status, headers)
        resp.headers['Content-Type'] = 'application/json'
        return resp

    @classmethod
    def redirect(cls, url, status=302):
        """A redirect to ``url``; ``ValueError`` if it holds a control character
        (CR, LF, NUL...)."""
        if has_control_chars(url):
            raise ValueError('redirect(url=%r): holds a control character' % (url,))
        return cls(None, status, {'Location': url})

    def set_cookie(self, name, value, max_age=None, path='/', http_only=False,
                   secure=False, same_site=None, domain=None, expires=None):
        """Add a ``Set-Cookie`` header.

        :param name: cookie name (an HTTP token).
        :param value: cookie value (no ``;``, ``,``, spaces, quotes or backslashes).
        :param max_age: lifetime in seconds; ``None`` for a session cookie.
        :param path: the ``Path`` attribute (default ``'/'``).
        :param http_only: hide the cookie from JavaScript.
        :param secure: send it over HTTPS only.
        :param same_site: ``'Strict'``, ``'Lax'`` or ``'None'``.
        :param domain: the ``Domain`` attribute.
        :param expires: an HTTP date for the ``Expires`` attribute.
        :raises ValueError: naming the argument that is not allowed.
        """
        from .forms import format_cookie
        cookie = format_cookie(name, value, max_age, path, http_only, secure, same_site,
                               domain, expires)
        self.cookies = list(self.cookies) + [cookie]

    def delete_cookie(self, name, path='/', domain=None):
        """Tell the client to drop cookie ``name``."""
        self.set_cookie(name, '', 0, path, domain=domain,
                        expires='Thu, 01 Jan 1970 00:00:00 GMT')


def make_response(result):
    """Turn a handler's return value into a :class:`Response`.

    Accepts ``body``, ``(body, status)``, ``(body, status, headers)``, a
    :class:`Response`, or ``None`` (204 No Content). Plugins that call
    handlers of their own use it to accept what a route handler may return.
    """
    if isinstance(result, Response):
        return result
    status = headers = None
    if isinstance(result, tuple):
        if not 1 <= len(result) <= 3:
            raise ValueError('a handler returned a tuple of %d items' % len(result))
        result, status, headers = result + (None, None)[len(result) - 1:]
        if isinstance(result, Response):
            result.status = status or result.status
            for name in headers or ():
                result.headers[name] = headers[name]
            return result
    if status is None:
        status = 200 if result is not None else 204
    return Response(result, status, headers)


def log_to_console(level, message):
    """``App.log``'s default: print WARN and ERROR lines."""
    if level == 'WARN' or level == 'ERROR':
        print('weblet %s: %s' % (level, message))


# App's limits, in the order of its parameters; App.limits maps them to values.
LIMITS = ('max_body', 'max_header_bytes', 'max_headers', 'max_line', 'request_timeout',
          'keepalive_timeout', 'max_connections')


class App:
    """A weblet application: routes, hooks, error handlers and limits.

    :param max_body: largest body ``req.body()`` accepts, in bytes (413 past it).
    :param max_header_bytes: largest header section (431 past it).
    :param max_headers: most header lines (431 past it).
    :param max_line: longest request line (414 past it).
    :param request_timeout: seconds a client has to send a request's head,
        and for each read of its body (408 past it) or each write of the
        response (the connection closes past it).
    :param keepalive_timeout: seconds an idle keep-alive connection stays open.
    :param max_connections: connections served at once. More wait for a slot
        (an idle keep-alive connection is closed to make room) and get 503
        after twice ``request_timeout``.
    :param debug: put tracebacks in 500 responses.

    Set ``app.log`` to a ``fn(level, message)`` to receive the log (levels
    ``'DEBUG'``, ``'INFO'``, ``'WARN'``, ``'ERROR'``); by default WARN and
    ERROR lines are printed. ``app.router`` is the app's
    :class:`~weblet.routing.Router`, and ``app.server`` the running server
    (``None`` until :meth:`start`).

    Example::

        app = App()

        @app.route('/')
        async def index(req):
            return '<h1>hi</h1>'

        app.run(port=8080)
    """

    stream_chunk_size = 1024  # bytes per write of a streamed body: 512 halves file speed
    # What the app registers, empty on the class until it does: each registration
    # makes a new tuple (a dict for _errors), so an instance has only what it
    # uses. Five empty lists and a dict cost every App, mounted ones too, 224 B
    # on the 32-bit port.
    _before = _after = _startup = _shutdown = _plugins = ()
    _errors = {}  # status or exception class -> handler; never changed in place

    def __init__(self, max_body=16 * 1024, max_header_bytes=4096, max_headers=32,
                 max_line=2048, request_timeout=5, keepalive_timeout=15,
                 max_connections=8, debug=False):
        from .setup import set_limits
        set_limits(self, LIMITS, (max_body, max_header_bytes, max_headers, max_line,
                                  request_timeout, keepalive_timeout, max_connections))
        self.debug = debug
        self.log = log_to_console
        self.server = None
        self.router = Router()

    @property
    def limits(self):
        """The app's limits as a dict of :class:`App`'s keyword arguments, so that
        another app can share them: ``App(debug=app.debug, **app.limits)``."""
        return dict((name, getattr(self, name)) for name in LIMITS)

    # -- registering ------------------------------------------------------------
    # route, mount, use and errorhandler (and __init__'s checks) forward to
    # weblet.setup, loaded by the first of them: a device runs that code while
    # it sets up, and start unloads it before it loads the server (1 KB of heap
    # with .mpy files on a 32-bit port).

    def route(self, path, methods=None, name=None):
        """Register the decorated function for ``path``.

        :param path: a pattern such as ``'/led/<int:pin>'``: parameters are
            ``<name>``, ``<int:name>``, ``<path:name>`` or a custom
            converter, optionally with literal text around them in one
            segment (``'/<name>.json'``).
        :param methods: list of methods, default ``['GET']`` (HEAD follows GET).
        :param name: the name for :meth:`url_for` (default: the function name).

        Example::

            @app.route('/led/<int:pin>', methods=['GET', 'PUT'])
            async def led(req, pin):
                return {'pin': pin}
        """
        from .setup import route
        return route(self, path, methods, name)

    def get(self, path, name=None):
        """Shortcut for ``route(path, methods=['GET'], name=name)``."""
        return self.route(path, ['GET'], name)

    def post(self, path, name=None):
        """Shortcut for ``route(path, methods=['POST'], name=name)``."""
        return self.route(path, ['POST'], name)

    def put(self, path, name=None):
        """Shortcut for ``route(path, methods=['PUT'], name=name)``."""
        return self.route(path, ['PUT'], name)

    def patch(self, path, name=None):
        """Shortcut for ``route(path, methods=['PATCH'], name=name)``."""
        return self.route(path, ['PATCH'], name)

    def delete(self, path, name=None):
        """Shortcut for ``route(path, methods=['DELETE'], name=name)``."""
        return self.route(path, ['DELETE'], name)

    def mount(self, prefix, app):
        """Serve ``app``'s routes under ``prefix``; its hooks apply to its routes only.

        Example: ``app.mount('/api', api)`` serves ``api``'s ``/status`` at ``/api/status``.
        """
        from .setup import mount
        mount(self, prefix, app)

    def use(self, plugin):
        """Install ``plugin`` (calls ``plugin.install(self)`` once); returns the plugin.

        Example: ``api = app.use(RestAPI(prefix='/api'))``.
        """
        from .setup import use
        return use(self, plugin)

    def before_request(self, fn):
        """Run ``fn(req)`` before each handler; a result other than None is the answer."""
        self._before += (fn,)
        return fn

    def after_request(self, fn):
        """Run ``fn(req, resp)`` on each response; a result other than None replaces it."""
        self._after += (fn,)
        return fn

    def errorhandler(self, key):
        """Handle an HTTP status (``int``) or an exception class with ``fn(req, exc)``.

        Example::

            @app.errorhandler(404)
            def not_found(req, exc):
                return 'nothing here', 404
        """
        from .setup import errorhandler
        return errorhandler(self, key)

    def on_startup(self, fn):
        """Run ``fn()`` (sync or async) when the server starts, before it listens
        (a mounted app's run when the app it is mounted in starts)."""
        self._startup += (fn,)
        return fn

    def on_shutdown(self, fn):
        """Run ``fn()`` (sync or async) after the server stops."""
        self._shutdown += (fn,)
        return fn

    add_converter = staticmethod(add_converter)

    def url_for(self, endpoint, **params):
        """The path of the route named ``endpoint``; unused params become a query string.

        Example: ``app.url_for('files', p='a/b.txt')`` -> ``'/files/a/b.txt'``.
        """
        from .urls import url_for
        return url_for(self.router, endpoint, params)

    # -- answering --------------------------------------------------------------

    async def handle(self, method, target, version, headers, body=None, client=None,
                     keep_alive=True):
        """Answer one request without a socket: the request path that the server,
        and anything else holding a parsed request, share.

        :param method: the method, e.g. ``'GET'``.
        :param target: the request target, e.g. ``'/led/2?on=1'``.
        :param version: ``'1.1'`` or ``'1.0'``.
        :param headers: the headers, a dict of lower-case names to values (as
            :func:`~weblet.protocol.parse_head` returns them) or a
            :class:`~weblet.protocol.Headers`.
        :param body: the request's :class:`~weblet.body.Body`, or ``None``
            when it has none.
        :param client: the peer's ``(address, port)``, or ``None``.
        :param keep_alive: ``False`` when the connection closes after this
            request whatever the request asks (a server shutting down).
        :returns: ``(resp, mode, keep_alive)``: the :class:`Response`, its
            headers completed for the wire (``Content-Length``,
            ``Transfer-Encoding``, ``Connection``); how its body goes on the
            wire and whether the connection stays open, as
            :func:`~weblet.protocol.response_framing` decides. A ``str`` body
            is encoded to ``bytes`` here.
        :raises HTTPError: for a target that cannot be decoded (400).
        :raises EOFError: when the client went away before its body was whole
            (the body's reader raised it): there is no one to answer.

        Example::

            resp, mode, keep = await app.handle('GET', '/', '1.1', {'host': 'device'})
            assert resp.status == 200 and mode == 'length'
        """
        req = Request(self, method, target, version, headers, body, client)
        resp = await self.dispatch(req)
        content = resp.body
        if isinstance(content, str):
            content = resp.body = content.encode()
        length = len(content) if isinstance(content, (bytes, bytearray, memoryview)) else None
        keep_alive = keep_alive and req.keep_alive and (
            body is None or body.reusable(self.max_body))
        mode, keep_alive, changes = response_framing(
            method, version, keep_alive, resp.status, resp.headers, length)
        headers = resp.headers
        for name, value in changes:
            if value is None:
                headers.pop(name)
            else:
                headers[name] = value
        return resp, mode, keep_alive

    async def dispatch(self, req, path=None, nested=False):
        """Run hooks, the matching handler and error handlers; always returns a Response.

        An app mounted in another is dispatched with the rest of the ``path``
        and ``nested`` set: errors it has no handler for then go up to the
        app it is mounted in.
        """
        # Two try statements one after the other, not one inside the other: a
        # request's coroutine frame is then 16 B smaller (10 blocks to 9 on the
        # 32-bit port), and a fragmented heap more often has room for it.
        resp = failure = None
        try:
            kind, target, detail = self.router.match(req.method, path or req.path)
            for hook in self._before:
                result = await call(hook, req)
                if result is not None:
                    resp = make_response(result)
                    break
            if resp is None:
                if kind == FOUND:
                    req.params = detail
                    resp = make_response(await call(target, req, **detail))
                elif kind == MOUNTED:
                    resp = await target.dispatch(req, detail, True)
                elif kind == NOT_FOUND:
                    raise HTTPError(404)
                elif req.method == 'OPTIONS':
                    resp = Response(None, 204, {'Allow': detail})
                else:
                    error = HTTPError(405)
                    error.headers = {'Allow': detail}
                    raise error
        except EOFError:  # the client went away before its body was whole: no one
            raise  # to answer, and no fault of the app's to log (the server closes)
        except Exception as exc:
            failure = exc
        try:
            if failure is not None:
                handler = self._error_handler(failure)
                if handler is not None:
                    resp = make_response(await call(handler, req, failure))
                elif nested:  # the app this one is mounted in may handle it
                    raise failure
                else:
                    resp = self._default_error(req, failure)
            for hook in self._after:
                result = await call(hook, req, resp)
                if result is not None:
                    resp = make_response(result)
            return resp
        except Exception as exc:  # an error handler or after-request hook failed
            if nested:
                raise
            return self._default_error(req, exc)

    def _error_handler(self, exc):
        """The handler :meth:`errorhandler` registered for ``exc``, or ``None``: for its
        status if it is an HTTPError, else for the first class it is an instance of."""
        errors = self._errors
        if isinstance(exc, HTTPError) and exc.status in errors:
            return errors[exc.status]
        for key in errors:
            if not isinstance(key, int) and isinstance(exc, key):
                return errors[key]
        return None

    def _default_error(self, req, exc):
        if isinstance(exc, HTTPError):
            resp = Response((exc.message or str(exc)) + '\n', exc.status, exc.headers)
        elif isinstance(exc, MemoryError):
            resp = Response('out of memory\n', 503)
            self.log('ERROR', 'out of memory in %s %r' % (req.method, req.path))
        else:
            # The path as a repr: a decoded %0d%0a cannot start a log line of its own.
            trace = format_exception(exc)
            self.log('ERROR', '%s %r failed:\n%s' % (req.method, req.path, trace))
            resp = Response(trace if self.debug else '500 Internal Server Error\n', 500)
        resp.headers['Content-Type'] = 'text/plain; charset=utf-8'
        return resp

    # -- running ----------------------------------------------------------------

    async def start(self, host='127.0.0.1', port=8080, ssl=None):
        """Start serving in the background and return the server (for composing tasks).

        Runs the ``on_startup`` functions first, then listens.

        :param host: the address to listen on (``'0.0.0.0'``: every interface).
        :param port: the TCP port.
        :param ssl: an ``ssl.SSLContext`` for HTTPS, or ``None``.

        Example::

            async def main():
                await app.start('0.0.0.0', 80)
                await sensor_loop()
        """
        from .lifecycle import start
        return await start(self, host, port, ssl)

    async def shutdown(self, timeout=1):
        """Stop accepting, let in-flight requests finish (``timeout`` s at most),
        close idle ones, then run the ``on_shutdown`` functions."""
        from .lifecycle import shutdown
        await shutdown(self, timeout)

    async def serve_forever(self, host='127.0.0.1', port=8080, ssl=None):
        """Start, then wait until :meth:`shutdown` has finished."""
        server = await self.start(host, port, ssl)
        await server.wait_closed()

    def run(self, host='127.0.0.1', port=8080, ssl=None):
        """Serve until :meth:`shutdown` or Ctrl-C (blocking)."""
        try:
            asyncio.run(self.serve_forever(host, port, ssl))
        except KeyboardInterrupt:
            from .lifecycle import run_hooks
            asyncio.run(run_hooks(self, '_shutdown'))
