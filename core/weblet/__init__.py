"""weblet: a tiny, plugin-based HTTP/1.1 web stack for MicroPython and CPython.

Everything an application or a plugin needs is importable from here: the
application API (:class:`App`, :class:`Request`, :class:`Response`,
:class:`HTTPError`, :func:`abort`) and the helpers the core shares with
plugins (:func:`call`, :func:`make_response`, :data:`MICROPYTHON`,
:func:`format_exception`, :func:`unload`, :func:`quote`, :func:`unquote`,
:func:`escape_html`).

Example::

    from weblet import App

    app = App()

    @app.route('/')
    async def index(req):
        return '<h1>hi</h1>'

    app.run(port=8080)
"""
from .platform import MICROPYTHON, call, format_exception, unload
from .protocol import HTTPError
from .app import App, Request, Response, abort, make_response

# quote, unquote and escape_html forward to weblet.escaping, loaded by the first
# call: an app that never escapes does not hold that code (1.4 KB of heap with
# .mpy files on a 32-bit port).


def quote(text, safe='/'):
    """Percent-encode ``text`` for a URL, keeping the characters in ``safe``:
    ``quote('a b/c')`` is ``'a%20b/c'``, ``quote('a/b', '')`` is ``'a%2Fb'``."""
    from .escaping import quote
    return quote(text, safe)


def unquote(text, plus=False):
    """Percent-decode ``text`` as UTF-8, ``+`` as a space with ``plus``:
    ``HTTPError(400)`` on a broken escape or invalid UTF-8."""
    from .escaping import unquote
    return unquote(text, plus)


def escape_html(value):
    """``value`` (any value, through ``str()``) as text for HTML, with ``& < > " '``
    escaped; ``None`` gives ``''``: ``escape_html('<b>')`` is ``'&lt;b&gt;'``."""
    from .escaping import escape_html
    return escape_html(value)


__version__ = '0.1.0'
__all__ = ('App', 'Request', 'Response', 'HTTPError', 'abort', 'make_response', 'call',
           'MICROPYTHON', 'format_exception', 'unload', 'quote', 'unquote', 'escape_html')
