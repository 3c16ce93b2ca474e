"""The weblet-static test app.

argv: PORT WWW PUB
  WWW is served at / (max_age 86400, gzip) and at /nf/ (with not_found_url);
  PUB at /pub/ with listing=True, max_age=0 and gzip=False.
"""
from weblet import App
from weblet.static import Static, send_file, add_mime_type
from testkit import serve, arg

www = arg(1)
pub = arg(2)
app = App()
add_mime_type('.tar', 'application/x-tar')
app.use(Static(www, max_age=86400))
app.use(Static(pub, prefix='/pub', max_age=0, listing=True, gzip=False))
app.use(Static(www, prefix='/nf/', not_found_url='/missing.html'))


@app.get('/api/ping')
def ping(req):
    return 'pong'


@app.get('/download')
async def download(req):
    name = req.args.get('name')
    return await send_file(req, www + '/data.csv', attachment=name or True, max_age=0)


@app.get('/send/<path:name>')
async def send(req, name):
    return await send_file(req, www + '/' + name, max_age=int(req.args.get('max_age', '0')))


@app.get('/bad-args')
async def bad_args(req):
    """Each wrong argument's error message, in order."""
    errors = []
    for kwargs in ({'root': www + '/no-such-folder'}, {'root': www + '/index.html'},
                   {'root': 5}, {'root': www, 'prefix': 'static'},
                   {'root': www, 'max_age': -1}, {'root': www, 'max_age': '1'},
                   {'root': www, 'index': 'index.html'}, {'root': www, 'not_found_url': 5}):
        try:
            Static(**kwargs)
            errors.append('accepted')
        except ValueError as e:
            errors.append(str(e))
    for args in (('tar', 'x/y'), ('.tar', 'tar'), ('.a b', 'x/y'), (5, 'x/y'), ('.x', None)):
        try:
            add_mime_type(*args)
            errors.append('accepted')
        except ValueError as e:
            errors.append(str(e))
    for args, kwargs in (((5,), {}), ((www + '/data.csv',), {'max_age': -5}),
                         ((www + '/data.csv',), {'attachment': 3})):
        try:
            await send_file(req, *args, **kwargs)
            errors.append('accepted')
        except ValueError as e:
            errors.append(str(e))
    return errors


serve(app)
