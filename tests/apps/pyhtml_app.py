"""The weblet-pyhtml test app.

argv: PORT TEMPLATES WWW [debug]
  TEMPLATES: Templates' folder (sources or precompiled modules), rendered by
  GET /render/<name> with the query's arguments as variables; WWW is served
  by tpl.pages(WWW).
"""
import gc
import sys

from weblet import App
from weblet.pyhtml import Templates, escape
from testkit import serve, arg

app = App(debug=arg(3) == 'debug')
app.stream_chunk_size = 512  # the chunk-size tests below assume 512-byte writes
tpl = Templates(arg(1), globals={'device': 'thermostat-1', 'Shared': {}})
app.use(tpl.pages(arg(2)))


@app.get('/render/<path:name>')
def render(req, name):
    variables = {}
    for key in req.args:
        variables[key] = req.args.get(key)
    if 'n' in variables:
        variables['n'] = int(variables['n'])
    return tpl.render(name, **variables)


@app.get('/interleave')
def interleave(req):
    """Two renders of one template, read in turn 100 bytes at a time: [body A, body B]."""
    pages = [tpl.render('interleave.pyhtml', label='A').body,
             tpl.render('interleave.pyhtml', label='B').body]
    parts = [[], []]
    buf = bytearray(100)
    live = [0, 1]
    while live:
        for index in list(live):
            count = pages[index].readinto(buf)
            if count:
                parts[index].append(bytes(buf[:count]))
            else:
                live.remove(index)
    return [b''.join(parts[0]).decode(), b''.join(parts[1]).decode()]


@app.get('/set-global')
def set_global(req):
    tpl.globals[req.args.get('name')] = req.args.get('value')
    return 'ok'


@app.get('/compiler-loaded')
def compiler_loaded(req):
    return 'yes' if 'weblet.pyhtml_compiler' in sys.modules else 'no'


@app.get('/heap')
def heap(req):
    gc.collect()
    return str(gc.mem_free()) if hasattr(gc, 'mem_free') else '0'


@app.get('/escape')
def escape_route(req):
    return escape(req.args.get('v'))


@app.get('/bad-args')
def bad_args(req):
    """Each wrong argument's error message, one per line."""
    errors = []
    for args, kwargs in ((('',), {}), ((3,), {}), (('t',), {'globals': []}),
                         (('t',), {'prerender': 0}), (('t',), {'cache_size': True})):
        try:
            Templates(*args, **kwargs)
            errors.append('no error')
        except ValueError as exc:
            errors.append(str(exc))
    try:
        tpl.pages('')
        errors.append('no error')
    except ValueError as exc:
        errors.append(str(exc))
    return '\n'.join(errors)


serve(app)
