"""App's setup methods: registering routes, hooks and plugins, starting and stopping.

A device runs these while ``boot.py`` composes the app, then only serves.
So on MicroPython they live here, out of the modules every request uses:
``App`` binds them on first use, and :meth:`AppSetup.start` unloads this
module once the server listens, which gives its heap back to requests. A
later call (a route added at run time, ``shutdown``) loads it again. The same
happens on CPython, where it only costs a module import.
"""
import sys

from .app import MICROPYTHON, CONVERTERS, Route, App, call, log_to_console
from .server import Server, asyncio, ticks_ms, ticks_diff


def compile_route(pattern):
    """A :class:`~weblet.app.Route` for ``pattern``; ``ValueError`` names a bad parameter."""
    route = Route()
    route.pattern = pattern
    route.handlers = {}
    if '<' not in pattern:
        return route
    segments = route.segments = []
    parts = pattern.split('/')
    for index, part in enumerate(parts):
        start = part.find('<')
        end = part.find('>', start)
        if start < 0:
            segments.append(part)
            continue
        kind, _, name = part[start + 1:end].rpartition(':')
        kind = kind or 'str'
        if (end < 0 or kind not in CONVERTERS or not name or '<' in part[end:]
                or name in [s[2] for s in segments if isinstance(s, tuple)]):
            raise ValueError('route(path=%r): bad parameter %r' % (pattern, part))
        if kind == 'path' and (index != len(parts) - 1 or part[end + 1:]):
            raise ValueError('route(path=%r): <path:%s> must end it' % (pattern, name))
        segments.append((part[:start], kind, name, part[end + 1:]))
        route.greedy = kind == 'path'
    return route


async def run_hooks(app, which):
    """Run ``app``'s ``_startup`` or ``_shutdown`` functions, then its mounted apps'."""
    for fn in getattr(app, which):
        await call(fn)
    for _, mounted in app._mounts:
        await run_hooks(mounted, which)


def unload():
    """Forget this module, so that the heap its functions hold is freed."""
    sys.modules.pop(__name__, None)
    package = sys.modules.get('weblet')
    if package is not None and hasattr(package, 'appsetup'):
        delattr(package, 'appsetup')


class AppSetup:
    """The methods of :class:`weblet.App` that build and run it (see the module docstring)."""

    def __init__(self, max_body=16 * 1024, max_header_bytes=4096, max_headers=32,
                 max_line=2048, request_timeout=5, keepalive_timeout=15,
                 max_connections=8, debug=False):
        limits = {'max_body': max_body, 'max_header_bytes': max_header_bytes,
                  'max_headers': max_headers, 'max_line': max_line,
                  'request_timeout': request_timeout, 'keepalive_timeout': keepalive_timeout,
                  'max_connections': max_connections}
        for name, value in limits.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError('App(%s=%r): must be a positive number' % (name, value))
            setattr(self, name, value)
        self.debug = debug
        self.log = log_to_console
        self.server = None
        self._static = {}    # pattern -> Route, for patterns without parameters
        self._dynamic = []   # Routes with parameters, in registration order
        self._names = {}     # name -> Route
        self._mounts = []    # (prefix, App)
        self._before = []
        self._after = []
        self._errors = {}    # status or exception class -> handler
        self._startup = []
        self._shutdown = []
        self._plugins = []

    def route(self, path, methods=None, name=None):
        """Register the decorated function for ``path``.

        :param path: a pattern such as ``'/led/<int:pin>'``: parameters are
            ``<name>``, ``<int:name>``, ``<path:name>`` or a custom
            converter, optionally with literal text around them in one
            segment (``'/<name>.json'``).
        :param methods: list of methods, default ``['GET']`` (HEAD follows GET).
        :param name: the name for :meth:`url_for` (default: the function name).
        """
        if not isinstance(path, str) or path[:1] != '/':
            raise ValueError("route(path=%r): must be a str starting with '/'" % (path,))
        if methods is None:
            methods = ['GET']
        elif isinstance(methods, str) or not methods:
            raise ValueError('route(methods=%r): must be a non-empty list' % (methods,))
        route = self._static.get(path)
        for known in self._dynamic:
            if known.pattern == path:
                route = known
        if route is None:
            route = compile_route(path)
            if route.segments is None:
                self._static[path] = route
            else:
                self._dynamic.append(route)
        names = self._names

        def register(handler):
            for method in methods:
                route.handlers[method.upper()] = handler
            names[name or handler.__name__] = route
            return handler
        return register

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
        """Serve ``app``'s routes under ``prefix``; its hooks apply to its routes only."""
        if not isinstance(prefix, str) or prefix[:1] != '/' or prefix[-1:] == '/':
            raise ValueError("mount(prefix=%r): must start, and not end, with '/'" % (prefix,))
        if not isinstance(app, App):
            raise ValueError('mount(app=%r): must be an App' % (app,))
        self._mounts.append((prefix, app))

    def use(self, plugin):
        """Install ``plugin`` (calls ``plugin.install(self)`` once); returns the plugin."""
        if not hasattr(plugin, 'install'):
            raise ValueError('use(plugin=%r): a plugin needs an install(app) method' % (plugin,))
        if plugin not in self._plugins:
            self._plugins.append(plugin)
            plugin.install(self)
        return plugin

    def before_request(self, fn):
        """Run ``fn(req)`` before each handler; a result other than None is the answer."""
        self._before.append(fn)
        return fn

    def after_request(self, fn):
        """Run ``fn(req, resp)`` on each response; a result other than None replaces it."""
        self._after.append(fn)
        return fn

    def errorhandler(self, key):
        """Handle an HTTP status (``int``) or an exception class with ``fn(req, exc)``."""
        if not isinstance(key, int) and not (isinstance(key, type)
                                             and issubclass(key, BaseException)):
            raise ValueError('errorhandler(%r): must be a status or an exception class' % (key,))
        errors = self._errors

        def register(fn):
            errors[key] = fn
            return fn
        return register

    def on_startup(self, fn):
        """Run ``fn()`` (sync or async) when the server starts, before it listens
        (a mounted app's run when the app it is mounted in starts)."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn):
        """Run ``fn()`` (sync or async) after the server stops."""
        self._shutdown.append(fn)
        return fn

    async def start(self, host='127.0.0.1', port=8080, ssl=None):
        """Start serving in the background and return the server (for composing tasks).

        :param ssl: an ``ssl.SSLContext`` for HTTPS, or ``None``.

        Example::

            async def main():
                await app.start('0.0.0.0', 80)
                await sensor_loop()
        """
        await run_hooks(self, '_startup')
        server = Server(self)
        backlog = self.max_connections * 2
        if MICROPYTHON:
            import socket
            address = socket.getaddrinfo(host, port)[0]
            listener = socket.socket(address[0])
            listener.setblocking(False)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address[-1])
            listener.listen(backlog)
            server.listener = listener
            server.accepter = asyncio.create_task(server._accept(listener, ssl))
        else:
            extra = {}
            if ssl is not None:
                # CPython completes the TLS handshake before _serve runs (where the
                # watchdog would bound it): bound it like a request head.
                extra['ssl_handshake_timeout'] = self.request_timeout
            server.listener = await asyncio.start_server(
                server._serve, host, port, backlog=backlog, ssl=ssl, **extra)
        server.watchdog = asyncio.create_task(server._watch())
        self.server = server
        self.log('INFO', 'listening on %s:%d' % (host, port))
        unload()
        return server

    async def shutdown(self, timeout=1):
        """Stop accepting, let in-flight requests finish (``timeout`` s at most), close idle ones."""
        server = self.server
        if server is None:
            return
        self.server = None
        server.closing = True
        if MICROPYTHON:
            server.accepter.cancel()
        server.listener.close()
        for conn in list(server.connections):
            if conn.idle:
                conn.task.cancel()
        started = ticks_ms()
        while server.connections and ticks_diff(ticks_ms(), started) < timeout * 1000:
            await asyncio.sleep(0.01)
        for conn in list(server.connections):
            conn.task.cancel()
        while server.connections:
            await asyncio.sleep(0.01)
        server.watchdog.cancel()
        if not MICROPYTHON:
            await server.listener.wait_closed()
        await run_hooks(self, '_shutdown')
        server.closed.set()
