"""The weblet-ssl test app: HTTPS alone, or HTTPS and HTTP through TLS.start.

argv: PORT then NAME=VALUE options:
  cert=, key=    certificate and key files (DER when the name ends in .der)
  as_bytes=1     hand TLS the files' bytes instead of their paths
  http=PORT      also start HTTP on PORT with tls.start (else app.start with tls.context())
  redirect=0     HTTP serves the app instead of redirecting
  hsts=1         Strict-Transport-Security on HTTPS responses
  timeout=S      the app's request_timeout
  www=DIR        serve DIR's files under /static/ (weblet-static)
  conns=N        max_connections
"""
import gc
import sys

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App, Response
from weblet.tls import TLS

try:
    from weblet.websockets import websocket
except ImportError:  # weblet-websockets not built yet
    websocket = None

port = int(sys.argv[1])
opts = dict(a.split('=', 1) for a in sys.argv[2:])
app = App(request_timeout=float(opts.get('timeout', 5)),
          max_connections=int(opts.get('conns', 8)))


def read(path):
    with open(path, 'rb') as f:
        return f.read()


if opts.get('as_bytes'):
    tls = TLS(cert=read(opts['cert']), key=read(opts['key']))
else:
    tls = TLS(cert=opts['cert'], key=opts['key'])
if 'www' in opts:
    from weblet.static import Static
    app.use(Static(opts['www'], prefix='/static/'))


@app.route('/')
def index(req):
    return '<h1>hi over tls</h1>'


@app.get('/echo-request')
def echo_request(req):
    return {'path': req.path, 'query': req.query,
            'plain_http': getattr(req.state, 'plain_http', False),
            'same_app': req.app is app}


@app.get('/stream')
def stream(req):
    """``n`` KB as a chunked generator body."""
    block = b'0123456789abcdef' * 64

    def gen():
        for _ in range(int(req.args.get('n', '1024'))):
            yield block
    return Response(gen(), headers={'Content-Type': 'application/octet-stream'})


@app.get('/mem')
def mem(req):
    gc.collect()
    return {'alloc': gc.mem_alloc(), 'free': gc.mem_free()}


@app.get('/shutdown')
async def shutdown(req):
    asyncio.create_task(app.shutdown())
    return 'bye'


if websocket is not None:
    @app.route('/ws')
    @websocket(max_message=8192)
    async def echo(req, ws):
        async for message in ws:
            await ws.send(message)


async def main():
    if 'http' in opts:
        server = await tls.start(app, https_port=port, http_port=int(opts['http']),
                                 redirect=opts.get('redirect', '1') == '1',
                                 hsts=opts.get('hsts') == '1', host='127.0.0.1')
    else:
        server = await app.start('127.0.0.1', port, ssl=tls.context())
    print('READY', port)
    await server.closed.wait()
    print('STOPPED')


asyncio.run(main())
