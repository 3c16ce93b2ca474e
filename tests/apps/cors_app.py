"""The weblet-cors test app: one CORS policy over core, plugin and sub-app routes.

argv: PORT MODE [ORIGIN]; MODE is ``list`` (a list of origins, credentials),
``star`` (the defaults) or ``star-cred`` (any origin, with credentials). ORIGIN is one
more allowed origin for ``list`` (the browser test's page).
"""
from weblet import App, Response
from weblet.cors import CORS
from weblet.restapi import RestAPI
from testkit import serve, arg

MODE = arg(1, 'list')
app = App()
if MODE == 'list':
    origins = ['https://ui.example', 'http://127.0.0.1:8000']
    if arg(2):
        origins.append(arg(2))
    cors = CORS(origins=origins, methods=['GET', 'PUT', 'DELETE'],
                headers=['Content-Type', 'X-Token'], expose_headers=['X-Request-Id'],
                credentials=True, max_age=300)
elif MODE == 'star':
    cors = CORS()
else:
    cors = CORS(origins='*', credentials=True, max_age=None)
app.use(cors)  # first, so that it answers preflights before the token check below


@app.before_request
def require_token(req):
    if req.path.startswith('/private') and req.headers.get('x-token') != 's3cret':
        return {'error': 'no token'}, 401


class Greeter:
    """A plugin with a route of its own."""

    def install(self, app):
        app.route('/plugin', name='greeter')(self.greet)

    def greet(self, req):
        return 'from a plugin'


app.use(Greeter())
api = app.use(RestAPI('/api'))


@api.resource('/items')
class Items:
    def get(self, req):
        return [1, 2]

    def put(self, req, data):
        return data


sub = App()


@sub.get('/hello')
def sub_hello(req):
    return 'from a sub-app'


app.mount('/sub', sub)


@app.get('/hello')
def hello(req):
    return Response('hello', headers={'X-Request-Id': '42', 'Vary': 'Accept-Encoding'})


hits = {'private': 0}


@app.route('/private/data', methods=['GET', 'DELETE'])
def private_data(req):
    hits['private'] += 1
    return ({'token': req.headers.get('x-token'), 'cookie': req.cookies.get('session'),
             'origin': req.headers.get('origin'), 'method': req.method},
            200, {'X-Request-Id': '7', 'X-Hidden': 'not exposed'})


@app.get('/public/data')
def public_data(req):
    hits['public'] = hits.get('public', 0) + 1
    return {'public': True}


@app.get('/hits')
def get_hits(req):
    return hits


@app.route('/own-options', methods=['GET', 'OPTIONS'])
def own_options(req):
    return 'mine' if req.method == 'OPTIONS' else 'get'


serve(app)
