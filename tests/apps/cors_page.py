"""The browser test's page: served from its own port, it calls the API app on another.

argv: PORT. ``GET /`` sets a ``session`` cookie (cookies are per host, not per port,
so the browser sends it to the API app on 127.0.0.1 too) and defines ``callApi``.
"""
from weblet import App, Response
from testkit import serve

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>cors page</title></head>
<body><p>weblet-cors browser check</p>
<script>
// Calls the API and reports what the page's script may see, or the browser's refusal.
async function callApi(url, options) {
  try {
    const resp = await fetch(url, options);
    return {ok: true, status: resp.status, body: await resp.json(),
            requestId: resp.headers.get('X-Request-Id'),
            hidden: resp.headers.get('X-Hidden')};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}
</script></body></html>
"""
app = App()


@app.get('/')
def page(req):
    resp = Response(PAGE)
    resp.set_cookie('session', 'cookie-value', same_site='Lax')
    return resp


serve(app)
