"""The application layer: App (router and hooks), Request and Response.

It knows nothing about sockets: the server hands :meth:`App.dispatch` a
parsed request head and writes out the :class:`Response` it returns.
"""
import json
import sys

from .protocol import HTTPError, Headers

MICROPYTHON = sys.implementation.name == 'micropython'
GENERATOR = type((lambda: (yield))())  # on MicroPython, coroutines too


def abort(status, message=None):
    """Stop handling the request and answer with ``status``.

    :param status: an HTTP status code such as ``403``.
    :param message: optional body text.
    :raises HTTPError: always.
    """
    raise HTTPError(status, message)


def _resume(coro):
    # Hands a MicroPython coroutine's first suspension to the scheduler, then runs it on.
    try:
        yield
    except BaseException:
        coro.close()
        raise
    return (yield from coro)


def _prepend(first, gen):
    yield first
    yield from gen


async def call(fn, *args, **kwargs):
    """Call a sync or async ``fn`` and return its result; plugins call user callbacks with it.

    On MicroPython coroutines and generators share one type: a generator
    whose first value is not ``None`` is a streamed body and is returned
    whole; anything else is run as a coroutine.
    """
    result = fn(*args, **kwargs)
    if hasattr(result, '__await__'):  # a CPython coroutine
        return await result
    if MICROPYTHON and isinstance(result, GENERATOR):
        try:
            first = result.send(None)
        except StopIteration as done:
            return done.value
        if first is not None:
            return _prepend(first, result)
        return await _resume(result)
    return result


class Request:
    """One HTTP request, as handlers and hooks see it.

    Attributes: ``method``, ``path`` (percent-decoded), ``query`` (the raw
    query string), ``args`` (a :class:`~weblet.forms.MultiDict`), ``headers``
    (case-insensitive :class:`~weblet.protocol.Headers`), ``cookies``,
    ``client`` (``(addr, port)``), ``params`` (route parameters), ``app``,
    ``state`` (plugins' per-request data), ``http_version`` (``'1.1'`` or
    ``'1.0'``), ``keep_alive`` and ``stream``: the body as an async stream,
    chunked coding removed, for bodies of any size.

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

    def __init__(self, app, method, target, http_version, headers, stream=None, client=None):
        self.app = app
        self.method = method
        self.http_version = http_version
        self.headers = Headers()
        self.headers._values = headers
        if stream is not None:
            self.stream = stream
        self.client = client
        self.params = {}
        if target[0] != '/':
            from .forms import origin_form
            target = origin_form(target, method)
        path, _, self.query = target.partition('?')
        if '%' in path:
            from .forms import unquote
            path = unquote(path)
        self.path = path
        tokens = headers.get('connection', '').lower()
        if http_version == '1.1':
            self.keep_alive = 'close' not in tokens
        else:
            self.keep_alive = 'keep-alive' in tokens

    def __getattr__(self, name):
        # args, cookies, state, stream, body(), text(), json() and form() are
        # made on first use by weblet/extras.py.
        if name[:1] == '_':
            raise AttributeError(name)
        from .extras import attribute, RequestExtras
        return attribute(self, name, RequestExtras)


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
        """A redirect to ``url``; ``ValueError`` if it contains CR or LF."""
        if '\r' in url or '\n' in url:
            raise ValueError('redirect(url=%r): contains CR or LF' % url)
        return cls(None, status, {'Location': url})

    def __getattr__(self, name):
        # set_cookie() and delete_cookie() are made on first use by weblet/extras.py.
        if name[:1] == '_':
            raise AttributeError(name)
        from .extras import attribute, ResponseExtras
        return attribute(self, name, ResponseExtras)


def make_response(result):
    """Turn a handler's return value into a :class:`Response`.

    Accepts ``body``, ``(body, status)``, ``(body, status, headers)``, a
    :class:`Response`, or ``None`` (204 No Content).
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


def _parse_int(text):
    if text.strip('0123456789'):  # ASCII digits only, as on MicroPython
        raise ValueError(text)
    return int(text)


# Route converters: name -> (parse(segment) -> value, raising ValueError; to_url)
CONVERTERS = {'str': (str, str), 'int': (_parse_int, str), 'path': (str, str)}


class Route:
    """A compiled URL pattern and its handlers, per method (made by ``App.route``).

    ``pattern`` is the pattern as registered, ``handlers`` maps methods to
    handlers, ``segments`` is ``None`` for a pattern without parameters,
    else a list of literal strings and ``(prefix, converter, name, suffix)``
    tuples, and ``greedy`` says it ends with a ``<path:...>`` parameter.
    """

    segments = None
    greedy = False

    def match(self, parts):
        """Route parameters for path ``parts`` (the path split on '/'), or None."""
        segments = self.segments
        if len(parts) != len(segments) and not (self.greedy and len(parts) > len(segments)):
            return None
        params = {}
        for index, segment in enumerate(segments):
            part = parts[index]
            if isinstance(segment, str):
                if part != segment:
                    return None
                continue
            prefix, kind, name, suffix = segment
            if kind == 'path':
                part = '/'.join(parts[index:])
            if (not part.startswith(prefix) or not part.endswith(suffix)
                    or len(part) <= len(prefix) + len(suffix)):
                return None
            try:
                params[name] = CONVERTERS[kind][0](part[len(prefix):len(part) - len(suffix)])
            except ValueError:
                return None
        return params


def _allowed(handlers):
    """The ``Allow`` header value for a route's handlers (HEAD with GET, always OPTIONS)."""
    methods = list(handlers)
    for implied in ('HEAD', 'OPTIONS'):
        if implied not in methods and (implied == 'OPTIONS' or 'GET' in methods):
            methods.append(implied)
    return ', '.join(methods)


def log_to_console(level, message):
    """``App.log``'s default: print WARN and ERROR lines."""
    if level == 'WARN' or level == 'ERROR':
        print('weblet %s: %s' % (level, message))


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

    Set ``app.log`` to a
    ``fn(level, message)`` to receive the log (levels ``'DEBUG'``,
    ``'INFO'``, ``'WARN'``, ``'ERROR'``); by default WARN and ERROR lines
    are printed.

    Example::

        app = App()

        @app.route('/')
        async def index(req):
            return '<h1>hi</h1>'

        app.run(port=8080)
    """

    stream_chunk_size = 1024  # bytes per write of a streamed body: 512 halves file speed

    # The setup methods (route, get, post, put, patch, delete, mount, use,
    # before_request, after_request, errorhandler, on_startup, on_shutdown,
    # start, shutdown) are weblet.appsetup.AppSetup's: loaded on first use,
    # unloaded once the server listens, so a serving device does not hold them.

    def __init__(self, *args, **kwargs):
        from .appsetup import AppSetup
        AppSetup.__init__(self, *args, **kwargs)

    def __getattr__(self, name):
        if name[:1] != '_':
            from .appsetup import AppSetup
            method = getattr(AppSetup, name, None)
            if method is not None:
                return lambda *args, **kwargs: method(self, *args, **kwargs)
        raise AttributeError(name)

    @staticmethod
    def add_converter(name, parse, to_url=str):
        """Register a route parameter type, usable as ``<name:param>`` in every app.

        :param name: the converter's name.
        :param parse: ``fn(segment) -> value``; raising ``ValueError`` means no match.
        :param to_url: ``fn(value) -> str`` for :meth:`url_for`.

        Example::

            App.add_converter('hex', lambda s: int(s, 16), lambda v: '%x' % v)
        """
        if not callable(parse) or not callable(to_url):
            raise ValueError('add_converter(%r): parse and to_url must be callable' % (name,))
        CONVERTERS[name] = (parse, to_url)

    def url_for(self, endpoint, **params):
        """The path of the route named ``endpoint``; unused params become a query string.

        Example: ``app.url_for('files', p='a/b.txt')`` -> ``'/files/a/b.txt'``.
        """
        from .forms import url_for
        return url_for(self, endpoint, params)

    # -- dispatch -----------------------------------------------------------

    def _match(self, method, path):
        """``(handler, params)``, ``(App, subpath)`` for a mount, or an error or answer."""
        if path == '*':  # OPTIONS * asks about the server as a whole
            methods = {}
            for route in list(self._static.values()) + self._dynamic:
                methods.update(route.handlers)
            return Response(None, 204, {'Allow': _allowed(methods)}), None
        route = self._static.get(path)
        params = {}
        if route is None:
            parts = path.split('/')
            for candidate in self._dynamic:
                params = candidate.match(parts)
                if params is not None:
                    route = candidate
                    break
        if route is None:
            for prefix, app in self._mounts:
                if path == prefix or path.startswith(prefix + '/'):
                    return app, path[len(prefix):] or '/'
            return HTTPError(404), None
        handler = route.handlers.get(method)
        if handler is None and method == 'HEAD':
            handler = route.handlers.get('GET')
        if handler is not None:
            return handler, params
        allowed = {'Allow': _allowed(route.handlers)}
        if method == 'OPTIONS':
            return Response(None, 204, allowed), None
        error = HTTPError(405)
        error.headers = allowed
        return error, None

    async def dispatch(self, req, path=None, nested=False):
        """Run hooks, the matching handler and error handlers; always returns a Response.

        An app mounted in another is dispatched with the rest of the ``path``
        and ``nested`` set: errors it has no handler for then go up to the
        app it is mounted in.
        """
        try:
            try:
                resp = None
                target, params = self._match(req.method, path or req.path)
                for hook in self._before:
                    result = await call(hook, req)
                    if result is not None:
                        resp = make_response(result)
                        break
                if resp is None:
                    if isinstance(target, App):
                        resp = await target.dispatch(req, params, True)
                    elif isinstance(target, HTTPError):
                        raise target
                    elif isinstance(target, Response):
                        resp = target
                    else:
                        req.params = params
                        resp = make_response(await call(target, req, **params))
            except Exception as exc:
                handler = self._errors.get(exc.status) if isinstance(exc, HTTPError) else None
                for key in self._errors:
                    if handler is None and not isinstance(key, int) and isinstance(exc, key):
                        handler = self._errors[key]
                if handler is not None:
                    resp = make_response(await call(handler, req, exc))
                elif nested:  # the app this one is mounted in may handle it
                    raise
                else:
                    resp = self._default_error(req, exc)
            for hook in self._after:
                result = await call(hook, req, resp)
                if result is not None:
                    resp = make_response(result)
            return resp
        except Exception as exc:  # an error handler or after-request hook failed
            if nested:
                raise
            return self._default_error(req, exc)

    def _default_error(self, req, exc):
        if isinstance(exc, HTTPError):
            resp = Response((exc.message or str(exc)) + '\n', exc.status, exc.headers)
        elif isinstance(exc, MemoryError):
            resp = Response('out of memory\n', 503)
            self.log('ERROR', 'out of memory in %s %s' % (req.method, req.path))
        else:
            from .extras import failure_response
            resp = failure_response(self, req, exc)
        resp.headers['Content-Type'] = 'text/plain; charset=utf-8'
        return resp

    # -- running (start and shutdown are setup methods) ----------------------

    async def serve_forever(self, host='127.0.0.1', port=8080, ssl=None):
        """Start, then wait until :meth:`shutdown` has finished."""
        server = await self.start(host, port, ssl)
        await server.closed.wait()

    def run(self, host='127.0.0.1', port=8080, ssl=None):
        """Serve until :meth:`shutdown` or Ctrl-C (blocking)."""
        from .server import asyncio
        try:
            asyncio.run(self.serve_forever(host, port, ssl))
        except KeyboardInterrupt:
            from .appsetup import run_hooks
            asyncio.run(run_hooks(self, '_shutdown'))
