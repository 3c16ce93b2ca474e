"""Setting an app up: checking its limits, compiling and registering routes,
error handlers, mounts and plugins.

:class:`weblet.App`'s constructor and registering methods forward here. A
device runs this code while its boot script sets the app up, so
:func:`weblet.lifecycle.start` unloads this module before it loads the
server, which then has that heap; a route registered later loads it again.
"""
from .routing import CONVERTERS, Route, Router


def set_limits(app, names, values):
    """:class:`weblet.App`'s limits, checked: ``ValueError`` names one that is not a
    positive number."""
    for name, value in zip(names, values):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError('App(%s=%r): must be a positive number' % (name, value))
        setattr(app, name, value)


def compile_route(pattern):
    """The :class:`~weblet.routing.Route` for ``pattern``, its parameters compiled;
    ``ValueError`` names a bad one."""
    if '<' not in pattern:
        return Route(pattern)
    segments = []
    greedy = False
    parts = pattern.split('/')
    for index, part in enumerate(parts):
        start = part.find('<')
        end = part.find('>', start)
        if start < 0:
            segments.append(part)
            continue
        kind, _, name = part[start + 1:end].rpartition(':')
        kind = kind or 'str'
        if (end < 0 or kind not in CONVERTERS or not name or '<' in part[end:]
                or name in [s[2] for s in segments if isinstance(s, tuple)]):
            raise ValueError('route(path=%r): bad parameter %r' % (pattern, part))
        if kind == 'path' and (index != len(parts) - 1 or part[end + 1:]):
            raise ValueError('route(path=%r): <path:%s> must end it' % (pattern, name))
        segments.append((part[:start], kind, name, part[end + 1:]))
        greedy = kind == 'path'
    return Route(pattern, segments, greedy)


def add_route(router, pattern):
    """The :class:`~weblet.routing.Route` for ``pattern`` in ``router``, compiled and
    added the first time."""
    route = router.static.get(pattern)
    for known in router.dynamic:
        if known.pattern == pattern:
            route = known
    if route is None:
        route = compile_route(pattern)
        if route.segments is None:
            router.static[pattern] = route
        else:
            router.dynamic.append(route)
    return route


def route(app, path, methods, name):
    """:meth:`weblet.App.route`: check the arguments, compile ``path``, return the
    decorator that registers a handler."""
    if not isinstance(path, str) or path[:1] != '/':
        raise ValueError("route(path=%r): must be a str starting with '/'" % (path,))
    if methods is None:
        methods = ['GET']
    elif isinstance(methods, str) or not methods:
        raise ValueError('route(methods=%r): must be a non-empty list' % (methods,))
    route = add_route(app.router, path)
    names = app.router.names

    def register(handler):
        for method in methods:
            route.handlers[method.upper()] = handler
        names[name or handler.__name__] = route
        return handler
    return register


def mount(app, prefix, mounted):
    """:meth:`weblet.App.mount`."""
    if not isinstance(prefix, str) or prefix[:1] != '/' or prefix[-1:] == '/':
        raise ValueError("mount(prefix=%r): must start, and not end, with '/'" % (prefix,))
    if not isinstance(getattr(mounted, 'router', None), Router):  # an App, or one like it
        raise ValueError('mount(app=%r): must be an App' % (mounted,))
    app.router.mounts.append((prefix, mounted))


def use(app, plugin):
    """:meth:`weblet.App.use`."""
    if not hasattr(plugin, 'install'):
        raise ValueError('use(plugin=%r): a plugin needs an install(app) method' % (plugin,))
    if plugin not in app._plugins:
        app._plugins += (plugin,)
        plugin.install(app)
    return plugin


def errorhandler(app, key):
    """:meth:`weblet.App.errorhandler`: check ``key``, return the decorator."""
    if not isinstance(key, int) and not (isinstance(key, type)
                                         and issubclass(key, BaseException)):
        raise ValueError('errorhandler(%r): must be a status or an exception class' % (key,))

    def register(fn):
        errors = dict(app._errors)
        errors[key] = fn
        app._errors = errors
        return fn
    return register
