"""A lean weblet-pyhtml app for the memory tests. argv: PORT TEMPLATES

GET /table/N/LABEL renders table.pyhtml from TEMPLATES with n=N, label=LABEL.
"""
from weblet import App
from weblet.pyhtml import Templates
from testkit import serve, arg

app = App()
app.stream_chunk_size = 512  # the small-heap setting (see the guide's limits)
tpl = Templates(arg(1))


@app.get('/table/<int:n>/<label>')
def table(req, n, label):
    return tpl.render('table.pyhtml', n=n, label=label)


serve(app)
