"""The weblet-restapi test app: resources of every kind under /api. argv: PORT [max_body]"""
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App, HTTPError, Response
from weblet.restapi import RestAPI
from testkit import serve, arg

app = App(max_body=int(arg(1, 1024)))
api = RestAPI(prefix='/api')
db = {1: {'id': 1, 'name': 'Ada'}}


@api.resource('/customers')  # declared before app.use(api)
class Customers:
    def get(self, req):
        return [db[key] for key in sorted(db)]

    async def post(self, req, data):
        await asyncio.sleep(0)
        db[int(data['id'])] = data
        return {'message': 'created', 'data': data}, 201, {'Location': '/api/customers/%s'
                                                           % data['id']}


app.use(api)


@api.resource('/customers/<int:id>')
class Customer:
    def get(self, req, id):
        return db.get(id) or api.abort(404, 'no such customer')

    async def put(self, req, id, data):
        db[id] = data
        return data

    def patch(self, req, id, data):
        if id not in db:
            raise HTTPError(404)
        db[id].update(data)
        return db[id], 200

    async def delete(self, req, id):
        db.pop(id, None)


@api.resource('/config', unit='C', limit=30)
class Config:
    def __init__(self, unit, limit):
        self.unit = unit
        self.limit = limit

    def get(self, req):
        return {'unit': self.unit, 'limit': self.limit}


@api.resource('/echo', methods=['POST', 'PUT', 'PATCH'])
def echo(req, data):
    return {'data': data, 'method': req.method}


@api.resource('/is-finite', methods=['POST'])
def is_finite(req, data):
    return {'finite': data['n'] - data['n'] == 0}  # inf - inf is nan


@api.resource('/scaled/<int:n>', methods=['GET'], factor=3)
async def scaled(req, n, factor):
    return {'n': n * factor}


class Thermostat:  # registered tinyweb-style, with add_resource
    def __init__(self, target):
        self.target = target

    def get(self, req):
        return {'target': self.target}


api.add_resource(Thermostat, '/thermostat', target=21)


@api.resource('/events', methods=['GET'])
def events(req):
    yield '['
    for i in range(3):
        yield '%s{"n": %d}' % (',' if i else '', i)
    yield ']'


async def ticks(n):
    yield '['
    for i in range(n):
        await asyncio.sleep(0.01)
        yield '%d%s' % (i, ',' if i < n - 1 else '')
    yield ']'


@api.resource('/ticks', methods=['GET'])
async def tick_stream(req):
    return ticks(int(req.args.get('n', '3')))


@api.resource('/raw-agen', methods=['GET'])
async def raw_agen(req):
    yield '["first"'  # MicroPython: an async generator yields before it awaits
    await asyncio.sleep(0.01)
    yield ', "second"]'


@api.resource('/nothing', methods=['GET', 'POST'])
async def nothing(req, data=None):
    await asyncio.sleep(0)


@api.resource('/made', methods=['GET'])
def made(req):
    return None, 201


@api.resource('/text', methods=['GET'])
def text(req):
    return 'hello', 200, {'X-Kind': 'text'}


@api.resource('/response', methods=['GET'])
def response(req):
    if req.args.get('status'):
        return Response('<p>html</p>', 202), 203, {'X-Extra': 'yes'}
    return Response('<p>html</p>', 202)


@api.resource('/fail', methods=['GET'])
def fail(req):
    raise KeyError('boom')


@api.resource('/fail-async', methods=['GET'])
async def fail_async(req):
    await asyncio.sleep(0)
    return 1 / 0


@api.resource('/teapot', methods=['GET'])
def teapot(req):
    error = HTTPError(418)
    error.headers = {'X-Reason': 'short and stout'}
    raise error


@api.resource('/readonly')
class ReadOnly:
    def get(self, req):
        return {'read': 'only'}


@app.get('/plain-fail')
def plain_fail(req):
    raise KeyError('not an API route')


log = []


def remember_log(level, message):
    log.append(level + ':' + message.split('\n')[0])


app.log = remember_log


@app.get('/log')
def get_log(req):
    return log


@app.get('/url')
def url(req):
    return {'customer': app.url_for('Customer', id=7), 'events': app.url_for('events')}


serve(app)
