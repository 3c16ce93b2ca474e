"""The members of Request and Response made on first use, and the 500 answer.

Many requests need none of them, so they stay out of the modules every
request uses: ``Request.__getattr__`` and ``Response.__getattr__`` ask
:func:`attribute` for a name the object does not have yet. A request's
``args``, ``cookies``, ``state`` and ``stream`` are made once and stored on
it; ``body()``, ``text()``, ``json()`` and ``form()``, and a response's
``set_cookie()`` and ``delete_cookie()``, are bound to the object.
"""
import json
import sys

from .protocol import HTTPError

STORED = ('args', 'cookies', 'state', 'stream')


class State:
    """Per-request storage for plugins, e.g. ``req.state.user``."""


class RequestExtras:
    """The members of :class:`weblet.Request` made on first use (see the module docstring)."""

    def args(self):
        """The query string's arguments (multi-valued: ``args.getlist('a')``)."""
        from .forms import parse_query
        return parse_query(self.query)

    def cookies(self):
        """The request's cookies as a dict."""
        from .forms import parse_cookies
        return parse_cookies(self.headers.get('cookie'))

    def state(self):
        """Per-request storage for plugins (a plain object): ``req.state.user = name``."""
        return State()

    def stream(self):
        """The body as an async stream: ``await req.stream.read(n)``, ``b''`` at the end."""
        from .body import Body
        return Body(None, 0)

    async def body(self):
        """The whole body as bytes; ``HTTPError(413)`` past the app's ``max_body``."""
        body = getattr(self, '_body', None)
        if body is None:
            from .body import read_limited
            body = self._body = await read_limited(self.stream, self.app.max_body)
        return body

    async def text(self):
        """The body decoded as UTF-8 (``HTTPError(400)`` if it is not)."""
        try:
            return (await self.body()).decode()
        except UnicodeError:
            raise HTTPError(400, 'body is not UTF-8')

    async def json(self):
        """The body parsed as JSON (``HTTPError(400)`` if it is not valid JSON)."""
        text = await self.text()
        try:
            return json.loads(text)
        except ValueError:
            raise HTTPError(400, 'invalid JSON')

    async def form(self):
        """An urlencoded body as a :class:`~weblet.forms.MultiDict` (empty for other types)."""
        from .forms import MultiDict, parse_query
        media_type = self.headers.get('content-type', '').split(';')[0].strip().lower()
        if media_type != 'application/x-www-form-urlencoded':
            return MultiDict()
        return parse_query(await self.text())


class ResponseExtras:
    """The members of :class:`weblet.Response` made on first use (see the module docstring)."""

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
        ResponseExtras.set_cookie(self, name, '', 0, path, domain=domain,
                                  expires='Thu, 01 Jan 1970 00:00:00 GMT')


def attribute(obj, name, extras):
    """``obj.<name>`` from ``extras`` (a class above), made now; else ``AttributeError``.

    The caller has already refused names starting with ``_``.
    """
    member = getattr(extras, name, None)
    if member is None:
        raise AttributeError(name)
    if name in STORED:  # only Request has these
        value = member(obj)
        setattr(obj, name, value)
        return value
    return lambda *args, **kwargs: member(obj, *args, **kwargs)


def failure_response(app, req, exc):
    """Log an exception a handler raised and return its 500 (with the traceback if ``debug``)."""
    try:
        import traceback
        trace = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except ImportError:  # MicroPython
        import io
        out = io.StringIO()
        sys.print_exception(exc, out)
        trace = out.getvalue()
    app.log('ERROR', '%s %s failed:\n%s' % (req.method, req.path, trace))
    from .app import Response
    return Response(trace if app.debug else '500 Internal Server Error\n', 500)
