"""URL routing: converters, matching patterns, mounts.

A :class:`Router` holds an app's routes and the apps mounted in it, and
matches a request's method and path against every route. A pattern such as
``'/led/<int:pin>'`` is compiled once, when it is registered, by
:mod:`weblet.setup` (which a serving device has unloaded). It knows
nothing of requests or responses: :meth:`Router.match` says what it found,
and the app acts on it. Building a path back from a route's name
(``url_for``) is :mod:`weblet.urls`'s, loaded only by apps that do it.
"""


def _parse_int(text):
    if text.strip('0123456789'):  # ASCII digits only, as on MicroPython
        raise ValueError(text)
    return int(text)


# Route converters: name -> (parse(segment) -> value, raising ValueError; to_url)
CONVERTERS = {'str': (str, str), 'int': (_parse_int, str), 'path': (str, str)}


def add_converter(name, parse, to_url=str):
    """Register a route parameter type, usable as ``<name:param>`` in every app.

    :param name: the converter's name.
    :param parse: ``fn(segment) -> value``; raising ``ValueError`` means no match.
    :param to_url: ``fn(value) -> str`` for ``url_for``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError('add_converter(name=%r): must be a non-empty str' % (name,))
    if not callable(parse) or not callable(to_url):
        raise ValueError('add_converter(%r): parse and to_url must be callable' % (name,))
    CONVERTERS[name] = (parse, to_url)


class Route:
    """A compiled URL pattern and its handlers, per method.

    ``pattern`` is the pattern as registered, ``handlers`` maps methods to
    handlers, ``segments`` is ``None`` for a pattern without parameters,
    else a list of literal strings and ``(prefix, converter, name, suffix)``
    tuples, and ``greedy`` says it ends with a ``<path:...>`` parameter.
    ``weblet.setup.compile_route`` makes one from a pattern.
    """

    segments = None
    greedy = False

    def __init__(self, pattern, segments=None, greedy=False):
        self.pattern = pattern
        self.handlers = {}
        if segments is not None:
            self.segments = segments
            self.greedy = greedy

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


def allowed(handlers):
    """The ``Allow`` header value for a route's handlers (HEAD with GET, always OPTIONS)."""
    methods = list(handlers)
    for implied in ('HEAD', 'OPTIONS'):
        if implied not in methods and (implied == 'OPTIONS' or 'GET' in methods):
            methods.append(implied)
    return ', '.join(methods)


# What Router.match found: the first item of the tuple it returns.
FOUND = 1        # (FOUND, handler, params)
MOUNTED = 2      # (MOUNTED, app, the rest of the path)
NOT_FOUND = 3    # (NOT_FOUND, None, None)
NOT_ALLOWED = 4  # (NOT_ALLOWED, None, the Allow header value): the path matched, the method not


class Router:
    """An app's routes, in registration order, and the apps mounted in it.

    ``mounts`` is a list of ``(prefix, app)``; a mounted app is anything with
    a ``router`` of its own.
    """

    def __init__(self):
        self.static = {}    # pattern -> Route, for patterns without parameters
        self.dynamic = []   # Routes with parameters, in registration order
        self.names = {}     # name -> Route
        self.mounts = []    # (prefix, app)

    def match(self, method, path):
        """What serves ``method`` on ``path``: ``(kind, target, detail)``, kind one of
        :data:`FOUND`, :data:`MOUNTED`, :data:`NOT_FOUND` and :data:`NOT_ALLOWED`.

        HEAD falls back to GET. The path ``*`` (``OPTIONS *``) is
        :data:`NOT_ALLOWED` with every method of the app.
        """
        if path == '*':  # OPTIONS * asks about the server as a whole
            methods = {}
            for route in list(self.static.values()) + self.dynamic:
                methods.update(route.handlers)
            return NOT_ALLOWED, None, allowed(methods)
        route = self.static.get(path)
        params = {}
        if route is None:
            parts = path.split('/')
            for candidate in self.dynamic:
                params = candidate.match(parts)
                if params is not None:
                    route = candidate
                    break
        if route is None:
            for prefix, app in self.mounts:
                if path == prefix or path.startswith(prefix + '/'):
                    return MOUNTED, app, path[len(prefix):] or '/'
            return NOT_FOUND, None, None
        handler = route.handlers.get(method)
        if handler is None and method == 'HEAD':
            handler = route.handlers.get('GET')
        if handler is None:
            return NOT_ALLOWED, None, allowed(route.handlers)
        return FOUND, handler, params
