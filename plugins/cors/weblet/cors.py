"""weblet-cors: Cross-Origin Resource Sharing (CORS) for every route of an app.

Example::

    from weblet import App
    from weblet.cors import CORS

    app = App()
    app.use(CORS(origins=['https://ui.example'], credentials=True))
"""
from weblet import Response

# The CORS-safelisted methods: a browser never needs them listed in a preflight answer.
_SAFE_METHODS = ('GET', 'HEAD', 'POST')
_ORIGIN = 'Access-Control-Allow-Origin'


def _names(argument, value):
    """``value`` (a list of header or method names) checked; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError('CORS(%s=%r): must be a list of names' % (argument, value))
    for name in value:
        if not isinstance(name, str) or not name or ',' in name or ' ' in name:
            raise ValueError('CORS(%s=%r): %r is not a name' % (argument, value, name))
    return list(value)


class CORS:
    """Answer CORS preflight requests and add CORS headers to every response of the app.

    Preflights (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``) from an allowed origin, for an
    allowed method and allowed headers, get ``204`` with the allowed
    origin, methods, headers and ``Access-Control-Max-Age``; any other
    preflight goes on to the app as a plain ``OPTIONS`` request and gets no
    CORS headers, so the browser blocks the actual request. Other responses
    to an allowed origin get ``Access-Control-Allow-Origin`` (and
    ``-Allow-Credentials``, ``-Expose-Headers``). Install it before plugins
    that may answer a request early (authentication), since a preflight
    never carries credentials.

    :param origins: ``'*'`` for any origin, or a list of origins such as
        ``['https://ui.example', 'http://192.168.4.1:8080']``.
    :param methods: methods allowed in preflights (GET, HEAD and POST always
        are); ``None`` allows any.
    :param headers: request headers allowed in preflights, such as
        ``['Content-Type', 'X-Token']``; ``None`` allows any.
    :param expose_headers: response headers the page's script may read
        besides the CORS-safelisted ones, e.g. ``['X-Request-Id']``.
    :param credentials: allow cookies and HTTP authentication
        (``Access-Control-Allow-Credentials: true``). The answer then echoes
        the request's origin instead of ``*``, even with ``origins='*'``.
    :param max_age: seconds a browser may cache a preflight answer;
        ``None`` sends no ``Access-Control-Max-Age``.

    Example::

        app.use(CORS(origins=['https://ui.example'], headers=['Content-Type'],
                     expose_headers=['X-Request-Id'], credentials=True))
    """

    def __init__(self, origins='*', methods=None, headers=None, expose_headers=None,
                 credentials=False, max_age=600):
        if origins != '*':
            if isinstance(origins, str) or not isinstance(origins, (list, tuple)) or not origins:
                raise ValueError("CORS(origins=%r): must be '*' or a non-empty list" % (origins,))
            for origin in origins:
                if (not isinstance(origin, str) or '://' not in origin
                        or '/' in origin.split('://', 1)[1]):
                    raise ValueError("CORS(origins=%r): %r is not an origin such as "
                                     "'https://host:port' (no path)" % (origins, origin))
            origins = [origin.lower() for origin in origins]
        methods = _names('methods', methods)
        headers = _names('headers', headers)
        expose_headers = _names('expose_headers', expose_headers)
        if not isinstance(credentials, bool):
            raise ValueError('CORS(credentials=%r): must be True or False' % (credentials,))
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool)
                                    or max_age < 0):
            raise ValueError('CORS(max_age=%r): must be an int >= 0 or None' % (max_age,))
        self.origins = origins
        self.methods = methods
        self.headers = headers and [name.lower() for name in headers]
        self.credentials = credentials
        # The answer depends on the request's Origin: echo it and say so with Vary.
        self._echo = origins != '*' or credentials
        # The headers each kind of answer carries besides the origin, built once.
        actual = {}
        if credentials:
            actual['Access-Control-Allow-Credentials'] = 'true'
        preflight = dict(actual)
        if expose_headers:
            actual['Access-Control-Expose-Headers'] = ', '.join(expose_headers)
        if max_age is not None:
            preflight['Access-Control-Max-Age'] = str(max_age)
        if methods:
            preflight['Access-Control-Allow-Methods'] = ', '.join(methods)
        if headers:
            preflight['Access-Control-Allow-Headers'] = ', '.join(headers)
        vary = ['Origin'] if self._echo else []
        if methods is None:
            vary.append('Access-Control-Request-Method')
        if headers is None:
            vary.append('Access-Control-Request-Headers')
        if vary:
            preflight['Vary'] = ', '.join(vary)
        self._actual = actual
        self._preflight = preflight

    def install(self, app):
        app.before_request(self.preflight)
        app.after_request(self.add_headers)

    def allows(self, origin):
        """Whether ``origin`` (the request's ``Origin`` header) may read responses."""
        if self.origins == '*':
            # 'null' (sandboxed pages, file: URLs) is never trusted with credentials.
            return not self.credentials or origin != 'null'
        return origin.lower() in self.origins

    def preflight(self, req):
        """Before-request hook: answer an allowed preflight with 204, let others through."""
        if req.method != 'OPTIONS':
            return None
        headers = req.headers
        method = headers.get('access-control-request-method')
        origin = headers.get('origin')
        if method is None or origin is None or not self.allows(origin):
            return None
        if self.methods is not None and method not in self.methods \
                and method not in _SAFE_METHODS:
            return None
        requested = headers.get('access-control-request-headers', '')
        if self.headers is not None:
            for name in requested.split(','):
                name = name.strip().lower()
                if name and name not in self.headers:
                    return None
        answer = Response(None, 204, self._preflight)
        answer.headers[_ORIGIN] = origin if self._echo else '*'
        if self.methods is None:
            answer.headers['Access-Control-Allow-Methods'] = method
        if self.headers is None and requested:
            answer.headers['Access-Control-Allow-Headers'] = requested
        return answer

    def add_headers(self, req, resp):
        """After-request hook: the CORS headers of an actual (non-preflight) response."""
        if req.method == 'OPTIONS' and 'access-control-request-method' in req.headers:
            return None  # a preflight: answered in full above, or refused
        headers = resp.headers
        if self._echo:
            vary = headers.get('vary')
            if not vary:
                headers['Vary'] = 'Origin'
            elif 'origin' not in [token.strip().lower() for token in vary.split(',')]:
                headers['Vary'] = vary + ', Origin'
            origin = req.headers.get('origin')
            if origin is None or not self.allows(origin):
                return None
            headers[_ORIGIN] = origin
        else:
            # The same answer for every request, so caches need no Vary (Fetch standard).
            headers[_ORIGIN] = '*'
        for name in self._actual:
            headers[name] = self._actual[name]
        return None
