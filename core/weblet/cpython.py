"""What CPython needs in place of MicroPython's built-ins: loaded on CPython only.

:mod:`weblet.platform` imports from here when it does not run on MicroPython,
and :mod:`weblet.lifecycle` listens with :func:`listen`. Kept out of platform
so that a device never loads this code: MicroPython keeps every name a loaded
module uses for good (a ``.mpy`` file interns them all, run or not), and the
names written here once cost the 32-bit ``.mpy`` hello world a new 2.4 KB
block of them. :func:`call` and :func:`format_exception` carry the API's
docstrings (Sphinx reads them on CPython); platform's MicroPython versions
do the same.
"""
import asyncio
import json
import time  # time.monotonic, which MicroPython lacks: this module still imports there


def ticks_ms():
    """MicroPython's ``time.ticks_ms``: milliseconds from an arbitrary start."""
    return int(time.monotonic() * 1000)


def ticks_add(ticks, delta):
    """MicroPython's ``time.ticks_add`` (no wrap-around here)."""
    return ticks + delta


def ticks_diff(end, start):
    """MicroPython's ``time.ticks_diff`` (no wrap-around here)."""
    return end - start


async def call(fn, *args, **kwargs):
    """Call a sync or async ``fn`` and return its result.

    The core calls handlers and hooks with it, and plugins call their
    users' callbacks with it, so a user may write any of them either way.
    On MicroPython, a generator that ``fn`` returns whose first value is
    not ``None`` is a streamed body, and is returned whole.

    Example::

        result = await call(self.on_reject, req)
    """
    result = fn(*args, **kwargs)
    if hasattr(result, '__await__'):
        return await result
    return result


def format_exception(exc):
    """``exc`` with its traceback, as the text Python prints for it.

    Example::

        app.log('ERROR', 'sensor task failed:\\n' + format_exception(exc))
    """
    from traceback import format_exception as lines
    return ''.join(lines(type(exc), exc, exc.__traceback__))


def _not_json(constant):
    raise ValueError(constant)


def json_loads(text):
    """``json.loads`` refusing NaN, Infinity and -Infinity, which are not JSON (RFC 8259
    section 6): CPython's json takes them unless told not to, MicroPython's refuses them."""
    return json.loads(text, parse_constant=_not_json)


async def listen(serve, host, port, backlog, ssl, handshake_timeout):
    """An ``asyncio`` server calling ``serve(reader, writer)`` for each connection.

    CPython completes the TLS handshake before ``serve`` runs (where weblet's
    watchdog would bound it), so ``handshake_timeout`` bounds it here.
    """
    extra = {}
    if ssl is not None:
        extra['ssl_handshake_timeout'] = handshake_timeout
    return await asyncio.start_server(serve, host, port, backlog=backlog, ssl=ssl, **extra)
