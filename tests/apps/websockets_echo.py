"""An echo WebSocket at / (for the conformance suite and the memory test).

argv: PORT [max_message] [max_connections]. ``GET /mem`` answers the heap in use
after a collection (MicroPython only; ``-1`` on CPython); ``GET /shutdown`` shuts
the app down.
"""
import gc

from weblet import App
from weblet.websockets import websocket
from testkit import serve, arg

app = App(max_connections=int(arg(2, 8)))


@app.route('/')
@websocket(max_message=int(arg(1, 65536)))
async def echo(req, ws):
    async for message in ws:
        await ws.send(message)


@app.get('/shutdown')
async def shutdown(req):
    import asyncio
    asyncio.create_task(app.shutdown(0.2))
    return 'bye'


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc() if hasattr(gc, 'mem_alloc') else -1}


serve(app)
