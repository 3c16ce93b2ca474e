"""weblet-restapi: JSON resources in the style of Flask-RESTful and tinyweb.

Example::

    from weblet import App
    from weblet.restapi import RestAPI

    app = App()
    api = app.use(RestAPI(prefix='/api'))
    db = {}

    @api.resource('/customers/<int:id>')
    class Customer:
        def get(self, req, id):
            return db.get(id) or api.abort(404, 'no such customer')

        async def put(self, req, id, data):
            db[id] = data
            return data
"""
import json

from weblet import HTTPError, Response, call, format_exception, make_response

METHODS = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
_BODY_METHODS = ('POST', 'PUT', 'PATCH')  # the methods whose callables get ``data``
_JSON = 'application/json'


def _error(status, message, headers=None):
    """The JSON error answer ``{"error": message, "status": status}``."""
    return Response.json({'error': message, 'status': status}, status, headers)


async def _data(req):
    """The request's ``data``: its JSON or urlencoded body merged over the query args."""
    # Without a query string, req.args is not asked for: it would load the
    # core's weblet.forms (448 B of heap frozen) for an empty dict.
    data = _merge({}, req.args) if req.query else {}
    headers = req.headers
    length = headers.get('content-length')
    if (length is None or length == '0') and 'transfer-encoding' not in headers:
        return data
    media_type = req.media_type
    if media_type == _JSON or media_type.endswith('+json'):
        body = await req.json()
        if not isinstance(body, dict):
            return body  # a list or a scalar cannot be merged with the query args
    elif media_type == 'application/x-www-form-urlencoded':
        body = await req.form()
    else:
        raise HTTPError(415, 'expected JSON or an urlencoded form, not %r'
                        % (media_type or 'no Content-Type'))
    return _merge(data, body)


def _merge(data, more):
    # A loop, not dict(more) or update(more): MicroPython reads a dict subclass
    # (MultiDict) given to those as a sequence of pairs.
    for key in more:
        data[key] = more[key]
    return data


def _respond(result):
    """Turn a resource's return value into a JSON (or streamed JSON) Response.

    The body becomes JSON here; the status and headers of the tuple forms,
    and a returned Response, are the core's :func:`~weblet.app.make_response`.
    """
    rest = ()
    if isinstance(result, tuple):
        if not 2 <= len(result) <= 3:
            raise ValueError('a resource returned a tuple of %d items' % len(result))
        result, rest = result[0], result[1:]
    if result is not None and not isinstance(result, Response):
        if not (hasattr(result, '__next__') or hasattr(result, '__anext__')):
            result = json.dumps(result).encode()
        result = Response(result)  # a generator's chunks are sent as they come
        result.headers['Content-Type'] = _JSON
    return make_response((result,) + rest)


class RestAPI:
    """A group of JSON resources under a path prefix; install it with ``app.use``.

    Every answer of the API's routes is JSON, errors included:
    ``{"error": message, "status": status}`` for :meth:`abort`, an
    ``HTTPError``, a body that cannot be parsed (400, 413, 415), a method the
    resource lacks (405 with ``Allow``) and any uncaught exception (500,
    logged; 503 for ``MemoryError``).

    :param prefix: prepended to every resource's URL: ``''`` or a path
        starting, and not ending, with ``'/'``.

    Example::

        api = app.use(RestAPI(prefix='/api'))

        @api.resource('/status')
        def status(req):
            return {'uptime': 42}
    """

    def __init__(self, prefix=''):
        if not isinstance(prefix, str) or (prefix and (prefix[0] != '/' or prefix[-1] == '/')):
            raise ValueError("RestAPI(prefix=%r): must be '' or start, and not end, with '/'"
                             % (prefix,))
        self.prefix = prefix
        self.app = None
        self._pending = []  # resources declared before install()

    def install(self, app):
        if self.app is not None:
            raise ValueError('RestAPI.install(app=%r): already installed in an app' % (app,))
        self.app = app
        for args in self._pending:
            self._register(*args)
        self._pending = None

    def resource(self, url, methods=None, **kwargs):
        """Serve a class or a function as a resource at ``prefix + url``.

        A **class** is instantiated once, as ``cls(**kwargs)``; its methods
        ``get``, ``post``, ``put``, ``patch`` and ``delete`` (sync or async)
        answer those HTTP methods, HEAD follows ``get``, OPTIONS lists them and
        any other method gets 405 with ``Allow``. A **function** answers the
        ``methods`` given (default ``['GET']``) and is called with ``kwargs``
        on every request, like tinyweb's ``@app.resource``.

        Each callable gets ``(req, **route_params)``; for POST, PUT and PATCH
        also ``data``: the JSON body (or an urlencoded form) merged over the
        query args. Invalid JSON is a 400, another body type a 415. It may
        return a dict or list (JSON), ``(obj, status)``, ``(obj, status,
        headers)``, ``None`` (204), a :class:`~weblet.Response`, or a
        generator or async generator of JSON text, streamed as it comes.

        :param url: the resource's path pattern, e.g. ``'/customers/<int:id>'``.
        :param methods: the HTTP methods to serve, from GET, POST, PUT, PATCH
            and DELETE; for a class, a subset of its methods (default: all).
        :param kwargs: a class's constructor arguments, or a function's extra
            keyword arguments.

        Example::

            @api.resource('/customers', db=db)
            class Customers:
                def __init__(self, db):
                    self.db = db

                def get(self, req):
                    return list(self.db.values())

                async def post(self, req, data):
                    self.db[data['id']] = data
                    return {'message': 'created'}, 201
        """
        if not isinstance(url, str) or url[:1] != '/':
            raise ValueError("resource(url=%r): must be a str starting with '/'" % (url,))
        if methods is not None:
            if isinstance(methods, str) or not isinstance(methods, (list, tuple)) or not methods:
                raise ValueError('resource(methods=%r): must be a non-empty list' % (methods,))
            checked = []
            for method in methods:
                if not isinstance(method, str) or method.upper() not in METHODS:
                    raise ValueError('resource(methods=%r): each must be one of %s'
                                     % (methods, ', '.join(METHODS)))
                checked.append(method.upper())
            methods = checked

        def register(target):
            args = (url, target, methods, kwargs)
            if self.app is None:
                self._pending.append(args)
            else:
                self._register(*args)
            return target
        return register

    def add_resource(self, cls, url, methods=None, **kwargs):
        """tinyweb's spelling of :meth:`resource`: ``api.add_resource(Customers, '/customers')``."""
        return self.resource(url, methods, **kwargs)(cls)

    def _register(self, url, target, methods, kwargs):
        if isinstance(target, type):
            instance = target(**kwargs)
            kwargs = {}
            handlers = {}
            for method in methods or METHODS:
                fn = getattr(instance, method.lower(), None)
                if fn is not None:
                    handlers[method] = fn
                elif methods:
                    raise ValueError('resource(methods=%r): %s has no %s method'
                                     % (methods, target.__name__, method.lower()))
            if not handlers:
                raise ValueError('resource(%s): defines none of get, post, put, patch, delete'
                                 % target.__name__)
        elif callable(target):
            handlers = {}
            for method in methods or ('GET',):
                handlers[method] = target
        else:
            raise TypeError('resource(%r): must decorate a class or a function' % (target,))
        # In METHODS order: MicroPython dicts do not keep insertion order.
        allow = [method for method in METHODS if method in handlers]
        if 'GET' in handlers:
            allow.append('HEAD')
        allow = ', '.join(allow + ['OPTIONS'])

        def serve(req, **params):  # not async: the core awaits what it returns
            return self._serve(req, handlers, allow, kwargs, params)
        path = self.prefix + url if url != '/' else self.prefix or '/'
        # Every method goes through serve(), so a missing one gets a JSON 405.
        self.app.route(path, METHODS + ('OPTIONS',), target.__name__)(serve)

    async def _serve(self, req, handlers, allow, kwargs, params):
        method = req.method
        try:
            if method == 'OPTIONS':
                return Response(None, 204, {'Allow': allow})
            fn = handlers.get('GET' if method == 'HEAD' else method)
            if fn is None:
                return _error(405, 'method %s not allowed' % method, {'Allow': allow})
            if method in _BODY_METHODS:
                params['data'] = await _data(req)
            params.update(kwargs)
            return _respond(await call(fn, req, **params))
        except HTTPError as exc:
            return _error(exc.status, exc.message or str(exc)[4:], exc.headers)  # '404 Not Found'
        except EOFError:  # the client went away mid-body: the core closes, logging nothing
            raise
        except MemoryError:  # as in the core: one request too big for the heap is a 503
            req.app.log('ERROR', 'out of memory in %s %r' % (method, req.path))
            return _error(503, 'out of memory')
        except Exception as exc:  # the API answers in JSON, whatever went wrong
            trace = format_exception(exc)
            req.app.log('ERROR', '%s %r failed:\n%s' % (method, req.path, trace))
            return _error(500, trace if req.app.debug else 'Internal Server Error')

    @staticmethod
    def abort(status, message=None):
        """Stop the request with a JSON error ``{"error": message, "status": status}``.

        :param status: the HTTP status, e.g. ``404``.
        :param message: the error text (default: the status's reason phrase).
        :raises HTTPError: always.

        Example: ``return db.get(id) or api.abort(404, 'no such customer')``.
        """
        raise HTTPError(status, message)
