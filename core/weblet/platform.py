"""What differs between MicroPython and CPython, written once for the core and plugins.

The bottom layer of the core: the interpreter flag, the asyncio module,
millisecond ticks, calling a callback that may be sync or async, formatting
an exception with its traceback, reading JSON, and forgetting a module to
free its heap. Shims for what differs belong here and nowhere else; what only
CPython needs lives in :mod:`weblet.cpython`, which a device never loads.
"""
import asyncio
import sys

MICROPYTHON = sys.implementation.name == 'micropython'
if MICROPYTHON:
    from time import ticks_ms, ticks_add, ticks_diff
    from json import loads as json_loads  # NaN and Infinity refused, as JSON wants

    GENERATOR = type((lambda: (yield))())  # coroutines too

    def _prepend(first, gen):
        yield first
        yield from gen

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

    def format_exception(exc):
        # Documented in weblet.cpython: there traceback formats it; here (even
        # with micropython-lib's traceback) print_exception does.
        from io import StringIO
        out = StringIO()
        sys.print_exception(exc, out)
        return out.getvalue()
else:
    from .cpython import ticks_ms, ticks_add, ticks_diff, json_loads, call, format_exception


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
