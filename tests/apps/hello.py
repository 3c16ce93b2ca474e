"""Hello world, for the memory tests and the fuzzer (tests/server/test_fuzz.py).

argv: PORT [max_connections] [request_timeout] [keepalive_timeout] (whole seconds;
the defaults are App's: 8, 5, 15).
"""
import gc

from weblet import App
from testkit import serve, arg

app = App(max_connections=int(arg(1, 8)), request_timeout=int(arg(2, 5)),
          keepalive_timeout=int(arg(3, 15)))


@app.route('/')
async def index(req):
    return '<h1>hi</h1>'


@app.get('/api/led/<int:pin>')
def led(req, pin):
    return {'pin': pin}


@app.post('/count-stream')
async def count_stream(req):
    """The body's size, read in pieces: it is never one object."""
    size = 0
    while True:
        piece = await req.stream.read(256)
        if not piece:
            return {'bytes': size}
        size += len(piece)


@app.post('/count')
async def count(req):
    return {'bytes': len(await req.body())}


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0}


serve(app)
