"""Hello world while the heap is squeezed at random moments: the MemoryError
injection test's app. argv: PORT SEED

On MicroPython a task fills the whole heap now and then (blocks of every size,
down to the smallest), holds it full for a few milliseconds while the other
tasks run, then lets go. Whatever the server allocates meanwhile raises
MemoryError, at whatever point it has reached: accepting, reading, routing,
answering. On CPython, which has no heap to fill, a before-request hook raises
MemoryError in a random tenth of the requests instead.
"""
import random

from weblet import MICROPYTHON, App
from testkit import serve, arg

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

app = App()
stats = {'squeezes': 0, 'squeezing': True}
random.seed(int(arg(1, 1)))


@app.route('/')
async def index(req):
    return '<h1>hi</h1>'


@app.get('/stop')
def stop(req):
    """Stop squeezing; the answer says how often the heap was filled."""
    stats['squeezing'] = False
    return {'squeezes': stats['squeezes']}


def fill():
    """Allocate until nothing more fits, biggest blocks first; return what holds it."""
    held = None
    for size in (1024, 256, 64, 16, 1):
        try:
            while True:
                held = (held, bytearray(size))
        except MemoryError:
            pass
    return held


async def squeeze():
    while stats['squeezing']:
        await asyncio.sleep_ms(random.randint(2, 20))
        held = fill()
        stats['squeezes'] += 1
        await asyncio.sleep_ms(random.randint(1, 8))
        held = None  # noqa: F841 (let go: the next collection frees it)


if MICROPYTHON:
    app.on_startup(lambda: asyncio.create_task(squeeze()))
else:
    @app.before_request
    def squeezed(req):
        if req.path == '/' and random.random() < 0.1:
            stats['squeezes'] += 1
            raise MemoryError()


serve(app)
