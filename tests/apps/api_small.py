"""A device's page and its JSON API behind Basic auth: weblet-static, -restapi and -auth.

argv: PORT WWW. ``GET /`` is WWW/index.html (weblet-static); ``/api/items/<id>``
answers GET and PUT (weblet-restapi), for ``admin``/``secret`` only (weblet-auth's
Basic scheme, which protects everything under ``/api``). The memory bench's
"core + static + restapi + auth" app: DESIGN.md section 4 budgets it on a
32-bit board, and tests/plugins/test_page_and_api.py holds it to that. It runs
by ``app.run``, as an app on a device would, not through testkit (whose code
would be in the heap): the tests wait for its port to listen.
"""
import sys

from weblet import App
from weblet.auth import BasicAuth
from weblet.restapi import RestAPI
from weblet.static import Static

app = App(max_connections=4)
app.stream_chunk_size = 512  # the small-heap setting (see the guide's limits)
app.use(BasicAuth(users={'admin': 'secret'}, realm='device').protect('/api'))
api = app.use(RestAPI('/api'))
app.use(Static(sys.argv[2]))
items = {}


@api.resource('/items/<int:id>')
class Item:
    def get(self, req, id):
        return items.get(id) or {'id': id, 'on': False}

    async def put(self, req, id, data):
        items[id] = data
        return data


app.run('127.0.0.1', int(sys.argv[1]))
