"""A small weblet-restapi app for the heap test. argv: PORT"""
from weblet import App
from weblet.restapi import RestAPI
from testkit import serve

app = App(max_connections=4)
api = app.use(RestAPI('/api'))
db = {}


@api.resource('/items/<int:id>')
class Item:
    def get(self, req, id):
        return db.get(id) or api.abort(404, 'no such item')

    async def put(self, req, id, data):
        db[id] = data
        return data, 201


@api.resource('/events', methods=['GET'])
def events(req):
    yield '['
    for i in range(20):
        yield '%s%d' % (',' if i else '', i)
    yield ']'


serve(app)
