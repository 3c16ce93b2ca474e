"""weblet: a tiny, plugin-based HTTP/1.1 web stack for MicroPython and CPython.

Example::

    from weblet import App

    app = App()

    @app.route('/')
    async def index(req):
        return '<h1>hi</h1>'

    app.run(port=8080)
"""
from .protocol import HTTPError
from .app import App, Request, Response, abort

__version__ = '0.1.0'
__all__ = ['App', 'Request', 'Response', 'HTTPError', 'abort']
