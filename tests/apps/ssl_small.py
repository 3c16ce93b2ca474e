"""Hello world over HTTPS, for the memory tests. argv: PORT CERT KEY [max_connections]"""
import gc

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App
from weblet.tls import TLS
from testkit import arg

app = App(max_connections=int(arg(3, 4)))


@app.route('/')
async def index(req):
    return '<h1>hi</h1>'


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc(), 'free': gc.mem_free()}


async def main():
    server = await app.start('127.0.0.1', int(arg(0)), ssl=TLS(arg(1), arg(2)).context())
    print('READY', arg(0))
    await server.wait_closed()


asyncio.run(main())
