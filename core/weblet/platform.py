"""What differs between MicroPython and CPython, written once for the core and plugins.

The bottom layer of the core: the interpreter flag, the asyncio module,
millisecond ticks, calling a callback that may be sync or async, formatting
an exception with its traceback, and forgetting a module to free its heap.
It imports nothing from weblet. ``try: import x / except ImportError``
shims belong here and nowhere else.
"""
import sys

try:
    import asyncio
except ImportError:  # MicroPython before 1.21
    import uasyncio as asyncio

try:
    from time import ticks_ms, ticks_add, ticks_diff
except ImportError:  # CPython
    from time import monotonic
    ticks_ms = lambda: int(monotonic() * 1000)  # noqa: E731 (lambdas cost less than defs)
    ticks_add = lambda ticks, delta: ticks + delta  # noqa: E731
    ticks_diff = lambda a, b: a - b  # noqa: E731

MICROPYTHON = sys.implementation.name == 'micropython'
GENERATOR = type((lambda: (yield))())  # on MicroPython, coroutines too


def _prepend(first, gen):
    yield first
    yield from gen


if MICROPYTHON:
    # There coroutines and generators share one type: a generator whose first
    # value is not None is a streamed body, returned whole; any other is run as
    # a coroutine. call is a plain function that hands back a small generator
    # to await, not a generator itself: awaiting a handler then takes a 96 B
    # frame instead of 144 B on the 32-bit port (48 B for a sync one), which a
    # fragmented heap more often has room for.
    def call(fn, *args, **kwargs):
        result = fn(*args, **kwargs)
        if isinstance(result, GENERATOR):
            return _run(result)
        return _returned(result)

    def _returned(value):
        return value
        yield  # never reached: it makes this a generator, which await accepts

    def _run(gen):
        # A plain generator, which MicroPython awaits like a coroutine: it drives
        # the coroutine it was given itself, where an async def would need one
        # more generator to hand the first suspension on.
        try:
            first = gen.send(None)
        except StopIteration as done:
            return done.value
        if first is not None:
            return _prepend(first, gen)
        try:
            yield  # the coroutine's first suspension, handed to the scheduler
        except BaseException:
            gen.close()
            raise
        return (yield from gen)
else:
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
    try:
        from traceback import format_exception as lines
        return ''.join(lines(type(exc), exc, exc.__traceback__))
    except (ImportError, AttributeError):  # MicroPython (even with micropython-lib's traceback)
        from io import StringIO
        out = StringIO()
        sys.print_exception(exc, out)
        return out.getvalue()


def unload(name):
    """Forget the module called ``name``, so the heap its code holds can be freed.

    It is removed from ``sys.modules`` and from its package's attributes; the
    next import loads it again. Only references held elsewhere keep it alive.

    Example::

        unload('weblet.pyhtml_compiler')
    """
    sys.modules.pop(name, None)
    package, _, attribute = name.rpartition('.')
    package = sys.modules.get(package)
    if package is not None:
        package.__dict__.pop(attribute, None)
