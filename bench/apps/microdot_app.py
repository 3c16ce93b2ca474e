"""Microdot side of the benchmarks. argv: PORT [STATIC_ROOT | - for hello world alone]"""
import gc
import sys

from microdot import Microdot, send_file

app = Microdot()
STATIC = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != '-' else None


@app.route('/')
async def index(req):
    return 'Hello, World!', 200, {'Content-Type': 'text/html; charset=utf-8'}


@app.get('/user/<int:id>')
async def user(req, id):
    return {'id': id, 'name': 'user%d' % id, 'active': True}


@app.post('/echo')
async def echo(req):
    return {'received': len(req.json)}


@app.get('/mem')
async def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0}


if STATIC:
    from microdot.websocket import with_websocket

    @app.get('/static/<path:name>')
    async def static(req, name):
        return send_file(STATIC + '/' + name)

    @app.route('/ws')
    @with_websocket
    async def echo_ws(req, ws):
        while True:
            await ws.send(await ws.receive())


app.run(host='127.0.0.1', port=int(sys.argv[1]))
