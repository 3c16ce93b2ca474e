"""The core test app: one route per behaviour the HTTP tests check.

argv: PORT [request_timeout] [keepalive_timeout] [max_connections] [max_body]
"""
import io
import sys

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App, Response, HTTPError, abort
from testkit import serve, arg

App.add_converter('hex', lambda text: int(text, 16), lambda value: '%x' % value)
app = App(request_timeout=float(arg(1, 5)), keepalive_timeout=float(arg(2, 15)),
          max_connections=int(arg(3, 8)), max_body=int(arg(4, 16 * 1024)),
          max_line=512, max_header_bytes=1024, max_headers=16, debug='debug' in sys.argv)
api = App()
events = []


@app.route('/')
async def index(req):
    return '<h1>hi</h1>'


@app.get('/sync')
def sync_handler(req):
    return 'sync'


@app.get('/api/led/<int:pin>')
def led(req, pin):
    return {'pin': pin}


@app.route('/files/<path:p>', methods=['GET', 'PUT'], name='files')
async def files(req, p):
    return b'file:' + p.encode(), 201, {'X-A': '1'}


@app.get('/item/<name>.json')
def item(req, name):
    return {'name': name}


@app.get('/color/<hex:rgb>', name='color')
def color(req, rgb):
    return {'rgb': rgb, 'url': app.url_for('color', rgb=rgb)}


@app.route('/with-options', methods=['GET', 'OPTIONS'])
def with_options(req):
    return 'custom options' if req.method == 'OPTIONS' else 'get'


@app.get('/one-tuple')
def one_tuple(req):
    return (Response('teapot', 418),)


@app.get('/bad-return')
def bad_return(req):
    return 42


@app.get('/bad-cookie')
def bad_cookie(req):
    resp = Response('x')
    resp.set_cookie('a', 'b', expires='x\r\nInjected: 1')
    return resp


@app.get('/bad-header/<which>')
def bad_header(req, which):
    resp = Response('x')
    if which == 'name':
        resp.headers['X-A: b\r\nInjected'] = 'v'
    else:
        resp.headers['X-A'] = 'a\x0bb'
    return resp


@app.get('/events')
def get_events(req):
    return {'events': events}


def remember_log(level, message):
    events.append(level + ':' + message.split('\n')[0])
    if level in ('WARN', 'ERROR'):
        print(level, message)


app.log = remember_log


@app.get('/url')
def url(req):
    return {'files': app.url_for('files', p='a/b c.txt'),
            'led': app.url_for('led', pin=3, on='yes'),
            'sub': app.url_for('sub_hello')}


@app.get('/none')
def none(req):
    return None


@app.get('/tuple')
def tuple_status(req):
    return 'made', 201


@app.get('/bytes')
def raw_bytes(req):
    return b'\x00\x01binary'


@app.get('/big')
def big(req):
    return 'x' * 5000


@app.get('/echo-request')
def echo_request(req):
    return {'method': req.method, 'path': req.path, 'query': req.query,
            'args': req.args, 'a_list': req.args.getlist('a'),
            'cookies': req.cookies, 'version': req.http_version,
            'keep_alive': req.keep_alive, 'client_ok': req.client[0] == '127.0.0.1',
            'ua': req.headers.get('USER-AGENT')}


@app.route('/echo', methods=['POST', 'PUT'])
async def echo(req):
    return Response(await req.body(), 200, {'Content-Type': 'application/octet-stream'})


@app.post('/json')
async def post_json(req):
    data = await req.json()
    return {'got': data}


@app.post('/form')
async def post_form(req):
    form = await req.form()
    return {'form': form, 'x_list': form.getlist('x')}


@app.post('/upload')
async def upload(req):
    size = 0
    checksum = 0
    while True:
        chunk = await req.stream.read(700)
        if not chunk:
            break
        for byte in chunk[:max(0, 16 - size)]:
            checksum += byte
        size += len(chunk)
    return {'size': size, 'head_sum': checksum}


@app.post('/ignore-body')
def ignore_body(req):
    return 'ignored'


@app.get('/cookie')
def cookie(req):
    resp = Response('cookies')
    resp.set_cookie('session', 'abc123', max_age=60, http_only=True, same_site='Lax')
    resp.delete_cookie('old')
    return resp


@app.get('/redirect')
def redirect(req):
    return Response.redirect('/target', 303)


@app.get('/stream/gen')
def stream_gen(req):
    def gen():
        for i in range(5):
            yield 'part%d;' % i
    return Response(gen(), headers={'Content-Type': 'text/plain'})


@app.get('/stream/agen')
def stream_agen(req):
    async def agen():
        for i in range(3):
            await asyncio.sleep(0.01)
            yield b'tick%d;' % i
    return Response(agen(), headers={'Content-Type': 'text/plain'})


@app.get('/stream/file')
def stream_file(req):
    return Response(io.BytesIO(b'0123456789' * 300))


@app.get('/stream/sized')
def stream_sized(req):
    return Response(io.BytesIO(b'abcdef'), headers={'Content-Length': '6'})


@app.get('/stream/wrong-length/<kind>')
def stream_wrong_length(req, kind):
    """Six bytes where ten are stated: a file, or a generator; or a generator
    going past four stated bytes."""
    if kind == 'file':
        return Response(io.BytesIO(b'abcdef'), headers={'Content-Length': '10'})

    def gen():
        yield b'abc'
        yield b'def'
    return Response(gen(), headers={'Content-Length': '4' if kind == 'over' else '10'})


@app.get('/stream/broken')
def stream_broken(req):
    def gen():
        yield 'first;'
        raise ValueError('boom mid-stream')
    return Response(gen())


@app.get('/fail')
def fail(req):
    raise RuntimeError('handler exploded')


@app.get('/fail/<path:rest>')
def fail_at(req, rest):
    raise RuntimeError('handler exploded')


@app.get('/memory')
def memory(req):
    return bytearray(1 << 40)


@app.get('/abort')
def do_abort(req):
    abort(403, 'not you')


@app.get('/value-error')
def value_error(req):
    raise ValueError('bad value')


@app.errorhandler(ValueError)
def on_value_error(req, exc):
    return {'error': str(exc)}, 422


@app.errorhandler(404)
def on_404(req, exc):
    return 'custom 404 for ' + req.path, 404


@app.get('/slow')
async def slow(req):
    await asyncio.sleep(float(req.args.get('s', '0.5')))
    return 'slow done'


@app.get('/shutdown')
async def shutdown(req):
    asyncio.create_task(app.shutdown())
    return 'bye'


@app.before_request
def gate(req):
    if req.headers.get('X-Block'):
        return 'blocked by hook', 418
    req.state.seen = True


@app.after_request
def stamp(req, resp):
    resp.headers['X-Seen'] = 'yes' if getattr(req.state, 'seen', False) else 'no'
    return resp


@api.get('/hello')
def sub_hello(req):
    return {'sub': True, 'path': req.path}


@api.on_startup
def sub_started():
    events.append('sub-startup')


@api.before_request
def sub_gate(req):
    req.state.sub = True


@api.after_request
def sub_stamp(req, resp):
    resp.headers['X-Sub'] = '1'


@app.get('/not-sub')
def not_sub(req):
    return {'sub_hook_ran': getattr(req.state, 'sub', False)}


@app.on_startup
def started():
    events.append('startup')


@app.on_shutdown
async def stopped():
    print('SHUTDOWN-HOOK')


app.mount('/api/v1', api)
serve(app)
