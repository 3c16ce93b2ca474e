"""WebSocket endpoints for tests/test_websockets*.py: one route per behaviour. argv: PORT"""
import json

try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App
from weblet.websockets import websocket, WebSockets, Broadcast
from testkit import serve

app = App(max_connections=32, request_timeout=3)
events = []
chat = Broadcast()
live = Broadcast(max_queue=8)


@app.route('/echo')
@websocket(protocols=['chat-v2', 'chat-v1'], max_message=70000)
async def echo(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/small')
@websocket(max_message=16)
async def small(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/origin')
@websocket(origins=['http://good.example', None])
async def origin(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/origin-strict')
@websocket(origins=('http://good.example',))
async def origin_strict(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/any-origin')
@websocket(origins='*')
async def any_origin(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/info/<name>')
@websocket()
async def info(req, ws, name):
    await ws.send(json.dumps({'name': name, 'path': req.path, 'q': req.args.get('q'),
                              'protocol': ws.protocol, 'closed': ws.closed}))
    async for message in ws:
        pass


@app.route('/control')
@websocket()
async def control(req, ws):
    async for message in ws:
        if message == 'close':
            await ws.close(4000, 'bye')
        elif message == 'ping':
            await ws.ping(b'hi')
            await ws.send('pinged')
        elif message == 'fail':
            raise ValueError('handler failed on purpose')
        elif message == 'return':
            return
        else:
            await ws.send(message)
    events.append('control %s %s %s' % (ws.closed, ws.close_code, ws.close_reason))


@app.route('/heartbeat')
@websocket(ping_interval=0.3)
async def heartbeat(req, ws):
    async for message in ws:
        await ws.send(message)


@app.route('/chat')
@websocket()
async def chat_room(req, ws):
    chat.add(ws)
    try:
        await ws.send('joined %d' % len(chat))
        async for message in ws:
            await chat.send(message)
    finally:
        chat.discard(ws)


@app.route('/live')
@websocket()
async def live_feed(req, ws):
    live.add(ws)
    await ws.send('joined')
    async for message in ws:
        pass


@app.get('/blast')
async def blast(req):
    """Broadcast n messages of ``size`` bytes to /live, yielding between them."""
    count = int(req.args.get('n', '1'))
    filler = 'x' * int(req.args.get('size', '10'))
    for index in range(count):
        await live.send('%d:%s' % (index, filler))
        await asyncio.sleep(0)
    return {'receivers': len(live)}


@app.get('/events')
def get_events(req):
    return {'events': events, 'chat': len(chat), 'live': len(live)}


async def on_accept(ws):
    await ws.send('welcome %s' % ws.protocol)


async def on_text(ws, text):
    if text == 'boom':
        raise RuntimeError('callback failed on purpose')
    await ws.send(text.upper())


async def on_binary(ws, data):
    await ws.send(bytes(reversed(data)))


def on_close(ws):
    events.append('callbacks %s' % ws.close_code)


def select_protocol(offered):
    return 'b' if 'b' in offered else None


app.use(WebSockets('/callbacks', on_accept=on_accept, on_text=on_text, on_binary=on_binary,
                   on_close=on_close, select_protocol=select_protocol))


@app.get('/page')
def page(req):
    """The browser test's page: echoes through /echo, sees closes, tries another origin."""
    return PAGE


PAGE = '''<!doctype html>
<html><head><meta charset="utf-8"><title>running</title></head>
<body><pre id="result"></pre>
<script>
const report = {got: []};
function finish(title) {
  document.getElementById('result').textContent = JSON.stringify(report);
  document.title = title;
}
// 1. echo a text and a binary message, then close from the page
const ws = new WebSocket('ws://' + location.host + '/echo', ['chat-v1']);
ws.binaryType = 'arraybuffer';
ws.onopen = () => { ws.send('h\u00e9llo \u2603'); ws.send(new Uint8Array([1, 2, 3, 250])); };
ws.onmessage = (event) => {
  report.got.push(typeof event.data === 'string'
                  ? event.data : Array.from(new Uint8Array(event.data)));
  if (report.got.length === 2) { ws.close(1000, 'done'); }
};
ws.onerror = () => finish('error');
ws.onclose = (event) => {
  report.protocol = ws.protocol;
  report.echo_close = [event.code, event.wasClean];
  // 2. the server closes with a code and a reason
  const control = new WebSocket('ws://' + location.host + '/control');
  control.onopen = () => control.send('close');
  control.onerror = () => finish('error');
  control.onclose = (e) => {
    report.server_close = [e.code, e.reason, e.wasClean];
    crossOrigin();
  };
};
// 3. the same server under another name is another origin: /echo refuses it
// (403: the page sees no open, close 1006), /any-origin (origins='*') takes it
function crossOrigin() {
  const other = 'ws://localhost:' + location.port;
  const refused = new WebSocket(other + '/echo');
  report.cross_origin = [];
  refused.onopen = () => { report.cross_origin.push('opened'); refused.close(); };
  refused.onclose = (e) => {
    report.cross_origin.push(e.code);
    const open = new WebSocket(other + '/any-origin');
    open.onopen = () => open.send('any');
    open.onmessage = (event) => { report.any_origin = event.data; open.close(); };
    open.onclose = () => finish('done');
  };
}
</script></body></html>
'''


serve(app)
