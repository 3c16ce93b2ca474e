"""The weblet-auth test app: Basic, Bearer, both, per route and per prefix, and the brake.

argv: PORT [brake window in seconds, 60] [brake slots, 2]
"""
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from weblet import App, Response
from weblet.auth import AnyOf, BasicAuth, BearerAuth, Brake, TokenSigner, equal
from testkit import serve, arg

SECRET = 'test secret, 32 bytes long......'
USERS = {'admin': 'secret', 'jürgen': 'pä:ss:wört', 'colon': ':', 'url': '???'}

app = App()
signer = TokenSigner(SECRET)
basic = BasicAuth(users=USERS, realm='device')
bearer = BearerAuth(verify=signer.verify, realm='api')
either = AnyOf(basic, bearer)


async def slow_verify(username, password):
    await asyncio.sleep(0.01)  # a verify that really suspends
    if username == 'dev' and equal(password, 'a:b'):
        return {'name': 'dev', 'role': 'developer'}
    return False if username == 'false' else None


def token_verify(token):
    return {'token': token} if token == 'abc-DEF_123.~+/==' else None


async def async_token_verify(token):
    await asyncio.sleep(0)
    return token_verify(token)


custom = BasicAuth(verify=slow_verify)
tokens = BearerAuth(verify=token_verify)
async_tokens = BearerAuth(verify=async_token_verify)
brake = Brake(failures=3, window=float(arg(1, 60)), slots=int(arg(2, 2)))
braked = BasicAuth(users=USERS, realm='braked', brake=brake)
braked_either = AnyOf(BasicAuth(users=USERS), BearerAuth(verify=signer.verify), brake=brake)


@app.get('/public')
def public(req):
    return {'user': getattr(req.state, 'user', None)}


@app.get('/settings')
@basic.required
async def settings(req):
    return {'user': req.state.user, 'url': app.url_for('settings')}


@app.route('/items/<int:n>', methods=['GET', 'POST'])
@basic.required
def sync_item(req, n):
    return {'user': req.state.user, 'n': n, 'url': app.url_for('sync_item', n=n)}


@app.get('/stream')
@basic.required
def stream(req):
    yield 'one;'
    yield 'two;'


@app.get('/custom')
@custom.required
async def custom_route(req):
    return {'user': req.state.user}


@app.get('/tokens')
@tokens.required
def tokens_route(req):
    return {'user': req.state.user}


@app.get('/async-tokens')
@async_tokens.required
async def async_tokens_route(req):
    return {'user': req.state.user}


@app.post('/login')
@basic.required
async def login(req):
    return {'token': signer.sign({'user': req.state.user}, expires_in=60)}


@app.get('/either')
@either.required
def either_route(req):
    return {'user': req.state.user}


@app.get('/braked')
@braked.required
def braked_route(req):
    return {'user': req.state.user}


@app.get('/braked-either')
@braked_either.required
def braked_either_route(req):
    return {'user': req.state.user}


@app.get('/check')
async def check(req):
    # A handler that decides for itself
    if req.args.get('private'):
        await basic.check(req)
    return {'user': getattr(req.state, 'user', None)}


@app.get('/api')
def api_root(req):
    return {'user': req.state.user}


@app.get('/api/status')
def api_status(req):
    return {'user': req.state.user}


@app.get('/apiary')
def apiary(req):
    return {'open': True}


@app.errorhandler(403)
def forbidden(req, exc):
    return Response.json({'error': 'forbidden'}, 403)


device = App()


@device.get('/admin/reboot')
def reboot(req):
    return {'user': req.state.user, 'rebooting': False}


@device.get('/info')
def info(req):
    return {'open': True}


device.use(basic.protect('/dev/admin/'))
app.use(bearer.protect('/api/'))
app.mount('/dev', device)
serve(app)
