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
from .escaping import escape_html, quote, unquote
from .app import App, Request, Response, abort, make_response

__version__ = '0.1.0'
__all__ = ('App', 'Request', 'Response', 'HTTPError', 'abort', 'make_response', 'call',
           'MICROPYTHON', 'format_exception', 'unload', 'quote', 'unquote', 'escape_html')
