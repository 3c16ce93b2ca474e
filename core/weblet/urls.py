"""Building a path back from a route's name: :meth:`weblet.App.url_for`.

Loaded the first time an app builds a URL, so an app that only answers
requests does not hold this code in its heap (with ``.mpy`` files, the
routing it needs to serve is loaded at import; this is not).
"""
from .escaping import quote
from .routing import CONVERTERS


def find_route(router, name):
    """``(route, prefix)`` for the route called ``name`` in ``router`` or in an app
    mounted in it (``prefix`` is where that app is mounted), or ``None``."""
    route = router.names.get(name)
    if route is not None:
        return route, ''
    for prefix, mounted in router.mounts:
        found = find_route(mounted.router, name)
        if found is not None:
            return found[0], prefix + found[1]
    return None


def build_path(route, params):
    """``route``'s path with ``params`` filled in; used keys are removed from ``params``."""
    if route.segments is None:
        return route.pattern
    out = []
    for segment in route.segments:
        if isinstance(segment, str):
            out.append(segment)
            continue
        prefix, kind, name, suffix = segment
        if name not in params:
            raise ValueError('url_for: missing parameter %r for %r' % (name, route.pattern))
        value = CONVERTERS[kind][1](params.pop(name))
        out.append(prefix + quote(value, '/' if kind == 'path' else '') + suffix)
    return '/'.join(out)


def url_for(router, name, params):
    """The path of the route called ``name`` in ``router``; the ``params`` (a dict,
    emptied of what the path uses) it does not use become the query string."""
    found = find_route(router, name)
    if found is None:
        raise ValueError('url_for: no route named %r' % name)
    path = found[1] + build_path(found[0], params)
    if params:
        path += '?' + '&'.join(quote(k, '') + '=' + quote(v, '') for k, v in params.items())
    return path
