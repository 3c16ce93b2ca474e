"""Not a server: tries weblet-restapi's argument checks and prints one line per case."""
from weblet import App
from weblet.restapi import RestAPI


class Empty:
    pass


class OnlyGet:
    def get(self, req):
        return {}


def handler(req):
    return {}


def attempt(label, fn):
    try:
        fn()
        print(label, 'OK')
    except (ValueError, TypeError) as exc:
        print(label, type(exc).__name__, exc)


def installed():
    api = RestAPI('/api')
    App().use(api)
    return api


attempt('prefix-slash', lambda: RestAPI('/api/'))
attempt('prefix-relative', lambda: RestAPI('api'))
attempt('prefix-type', lambda: RestAPI(1))
attempt('prefix-empty', lambda: RestAPI(''))
attempt('url', lambda: installed().resource('items'))
attempt('methods-str', lambda: installed().resource('/x', methods='GET'))
attempt('methods-empty', lambda: installed().resource('/x', methods=[]))
attempt('methods-unknown', lambda: installed().resource('/x', methods=['GET', 'TRACE']))
attempt('no-methods', lambda: installed().resource('/x')(Empty))
attempt('missing-method', lambda: installed().resource('/x', methods=['put'])(OnlyGet))
attempt('not-callable', lambda: installed().resource('/x')(42))
attempt('function', lambda: installed().resource('/x', methods=['get', 'POST'])(handler))
attempt('twice', lambda: App().use(installed()))
