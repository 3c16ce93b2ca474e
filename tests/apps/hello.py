"""Hello world, for the memory tests. argv: PORT [max_connections]"""
import gc

from weblet import App
from testkit import serve, arg

app = App(max_connections=int(arg(1, 8)))


@app.route('/')
async def index(req):
    return '<h1>hi</h1>'


@app.get('/api/led/<int:pin>')
def led(req, pin):
    return {'pin': pin}


@app.post('/count')
async def count(req):
    return {'bytes': len(await req.body())}


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0}


serve(app)
