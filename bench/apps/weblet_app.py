"""weblet side of the benchmarks. argv: PORT [STATIC_ROOT | - for hello world alone]"""
import gc
import sys

from weblet import App

app = App(max_connections=64, max_body=4096)


@app.route('/')
async def index(req):
    return 'Hello, World!'


@app.get('/user/<int:id>')
async def user(req, id):
    return {'id': id, 'name': 'user%d' % id, 'active': True}


@app.post('/echo')
async def echo(req):
    data = await req.json()
    return {'received': len(data)}


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0}


if len(sys.argv) > 2 and sys.argv[2] != '-':
    from weblet.static import Static
    from weblet.websockets import websocket

    app.use(Static(sys.argv[2], prefix='/static', max_age=0))

    @app.route('/ws')
    @websocket(max_message=1024)
    async def echo_ws(req, ws):
        async for message in ws:
            await ws.send(message)

app.run('127.0.0.1', int(sys.argv[1]))
