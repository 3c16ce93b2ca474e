"""A device-sized weblet-auth app for the memory test: a Basic-protected settings page,
a login that hands out signed tokens and a bearer-protected API. argv: PORT
"""
from weblet import App
from weblet.auth import BasicAuth, BearerAuth, Brake, TokenSigner
from testkit import serve

app = App(max_connections=4)
signer = TokenSigner('test secret, 32 bytes long......')
basic = BasicAuth(users={'admin': 'secret'}, realm='device', brake=Brake())
app.use(BearerAuth(verify=signer.verify, realm='device').protect('/api'))


@app.get('/settings')
@basic.required
async def settings(req):
    return {'user': req.state.user}


@app.post('/login')
@basic.required
def login(req):
    return {'token': signer.sign({'user': req.state.user}, expires_in=600)}


@app.get('/api/led/<int:pin>')
def led(req, pin):
    return {'pin': pin, 'user': req.state.user['user']}


serve(app)
