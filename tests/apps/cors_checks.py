"""Not a server: tries weblet-cors's argument checks and prints one line per case."""
from weblet.cors import CORS


def attempt(label, **kwargs):
    try:
        CORS(**kwargs)
        print(label, 'OK')
    except (ValueError, TypeError) as exc:
        print(label, type(exc).__name__, exc)


attempt('defaults')
attempt('origins-str', origins='https://a.example')
attempt('origins-empty', origins=[])
attempt('origins-path', origins=['https://a.example/'])
attempt('origins-scheme', origins=['a.example'])
attempt('origins-type', origins=[1])
attempt('origins-ok', origins=('https://a.example', 'http://10.0.0.2:8080'))
attempt('methods-str', methods='GET')
attempt('methods-item', methods=['GET', ''])
attempt('headers-comma', headers=['X-A, X-B'])
attempt('expose-type', expose_headers={'X-A': 1})
attempt('credentials', credentials='yes')
attempt('max-age-negative', max_age=-1)
attempt('max-age-bool', max_age=True)
attempt('max-age-none', max_age=None)
