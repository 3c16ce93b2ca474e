"""weblet-pyhtml: MicroWebSrv2-style ``.pyhtml`` templates, compiled once, streamed, escaped.

A template is compiled once (by :mod:`weblet.pyhtml_compiler`, imported only
when a template needs compiling) into Python source for a generator function,
or loaded from a module that ``tools/pyhtml_compile.py`` made beforehand.
Rendering runs that generator and sends its output in small chunks: the
first ``prerender`` bytes before the response's head (so an error there is
still a 500), the rest through weblet's stream buffer
(``App.stream_chunk_size`` bytes).

Template code is trusted code: ``{{ py }}`` blocks and ``{{ ... }}``
expressions run as Python with the rights of the application. Request data
is never evaluated; it only reaches a template as values (``request``, or
the variables a handler passes).

The variables of a render (``Templates.globals``, the keyword arguments,
``request`` and ``print``) are put into the template module's globals while
each chunk is produced and taken out again after it, so renders that
interleave on the asyncio loop each see their own variables. Render from
the server's event loop only, not from several threads at once.
"""
import os
import sys

from weblet import Response, HTTPError, escape_html, format_exception, unload

_MISSING = object()
_NAME_CHARS = '0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
_HTML = 'text/html; charset=utf-8'


class TemplateError(Exception):
    """A template that cannot be compiled, or that failed while rendering.

    The message starts with the template file and line, e.g.
    ``'templates/status.pyhtml, line 12: stray {{ end }}'``.
    """


escape = escape_html  # what {{ value }} writes (weblet.escape_html)


def _text(value):
    # {{! value }}: as MicroWebSrv2 does, None writes nothing.
    if value is None:
        return ''
    return value if isinstance(value, str) else str(value)


def module_name(file_name):
    """The module name a precompiled template is saved under: ``'status.pyhtml'`` -> ``'status_pyhtml'``.

    :param file_name: the template's file name, without folders.
    """
    return ''.join([c if c in _NAME_CHARS else '_' for c in file_name])


def stat(path):
    """``(size, mtime)`` of the regular file ``path``, or ``None`` if there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st[6], st[8]) if st[0] & 0x8000 else None


def where(exc, names, lines, files):
    """``'file, line N'`` of the innermost template line in ``exc``'s traceback.

    :param names: the file names the template's code carries in tracebacks.
    :param lines: the generated module's ``LINES`` map (see the compiler).
    :param files: the generated module's ``FILES``.
    """
    text = format_exception(exc)
    number = 0
    for name in names:
        at = text.rfind('File "%s", line ' % name) if name else -1
        if at >= 0:
            number = int(text[at + len(name) + 14:].split(',')[0].split('\n')[0])
    current = 0
    counts = [0] * len(files)
    for char in lines:
        code = ord(char)
        if code < 32:  # the code that follows comes from files[code]
            current = code
            continue
        counts[current] += code - 32
        number -= 1
        if number == 0:
            return '%s, line %d' % (files[current], counts[current])
    return files[0]


class _Page:
    """The output of one render, as a stream weblet sends with ``readinto``.

    weblet reads a stream into one reused buffer, so rendering allocates
    only the pieces themselves, never a whole chunk.
    """

    rest = after = b''  # what is left to send of the current piece, and what comes next

    def __init__(self, entry, variables):
        self.entry = entry
        self.variables = variables
        printed = self.printed = []
        # MicroWebSrv2's print(): writes str(value) to the page, unescaped.
        variables['print'] = lambda *values: printed.append(
            ' '.join([str(v) for v in values]).encode())
        self.gen = entry[3](escape, _text)

    def readinto(self, buf):
        """Render into ``buf`` until it is full or the page ends; the number of bytes."""
        size = len(buf)
        count = 0
        module = self.entry[4]
        variables = self.variables
        saved = [module.get(name, _MISSING) for name in variables]
        module.update(variables)
        try:
            while count < size:
                rest = self.rest
                if not rest:
                    if self.gen is None:
                        break
                    self.rest = self._next()
                    continue
                take = min(len(rest), size - count)
                buf[count:count + take] = rest[:take]
                count += take
                self.rest = rest[take:]
        finally:
            for name, value in zip(variables, saved):
                if value is _MISSING:
                    module.pop(name, None)
                else:
                    module[name] = value
        return count

    def _next(self):
        """The template's next piece, with what it printed first, as a memoryview."""
        after = self.after
        if after:
            self.after = b''
            return after
        try:
            piece = next(self.gen)
        except StopIteration:
            self.gen = None
            piece = b''
        except (HTTPError, MemoryError):
            self.gen = None
            raise
        except Exception as exc:
            self.gen = None
            entry = self.entry
            raise TemplateError('%s: %s: %s' % (where(exc, entry[7], entry[5], entry[6]),
                                                type(exc).__name__, exc))
        if not isinstance(piece, bytes):
            piece = piece.encode()
        printed = self.printed
        if printed:
            printed.append(piece)
            piece = b''.join(printed)
            printed[:] = ()
        return memoryview(piece)


class Templates:
    """A folder of ``.pyhtml`` templates and the variables every template sees.

    :param folder: the folder holding the templates (and/or their precompiled
        modules).
    :param globals: a dict of variables for every template, MicroWebSrv2's
        ``SetGlobalVar``; kept as ``tpl.globals`` (the same dict).
    :param prerender: how many bytes of each page are rendered before the
        response's head is sent: a page that fits is sent whole with a
        ``Content-Length``, and an error within them is a 500. A longer page
        is streamed; an error after those bytes closes the connection.
    :param cache_size: how many compiled templates stay in memory.

    Example::

        tpl = Templates('templates', globals={'device': 'thermostat-1'})

        @app.get('/status')
        async def status(req):
            return tpl.render('status.pyhtml', readings=sensor.last(20))

        app.use(tpl.pages('www'))   # GET /x.pyhtml renders www/x.pyhtml
    """

    def __init__(self, folder, globals=None, prerender=512, cache_size=8):
        if not isinstance(folder, str) or not folder:
            raise ValueError('Templates(folder=%r): must be a non-empty str' % (folder,))
        if globals is not None and not isinstance(globals, dict):
            raise ValueError('Templates(globals=%r): must be a dict' % (globals,))
        for name, value in (('prerender', prerender), ('cache_size', cache_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError('Templates(%s=%r): must be a positive int' % (name, value))
        self.folder = folder.rstrip('/') or '/'
        self.globals = {} if globals is None else globals
        self.prerender = prerender
        self.cache_size = cache_size
        self._cache = {}

    def render(self, template, **variables):
        """Render ``template`` (a path under the folder) with ``variables``; a Response.

        The first ``prerender`` bytes are rendered at once, so an error there
        raises here (a 500). A page that fits in them is sent with
        ``Content-Length``, a longer one is streamed (chunked on HTTP/1.1).

        :param template: e.g. ``'status.pyhtml'`` or ``'parts/row.pyhtml'``.
        :param variables: the template's variables, on top of ``globals``.
        :raises TemplateError: the template is missing, does not compile, or
            failed while rendering its first ``prerender`` bytes.

        Example::

            return tpl.render('status.pyhtml', readings=[20.5, 21.0])
        """
        path = self.folder + '/' + template
        entry = self._load(path)
        if entry is None:
            raise TemplateError('%s: no such template' % path)
        return self._render(entry, variables)

    def _render(self, entry, variables):
        names = dict(self.globals)
        names.update(variables)
        page = _Page(entry, names)
        first = bytearray(self.prerender)
        count = page.readinto(first)
        if page.gen is None and not page.rest:  # the whole page is in the first chunk
            return Response(memoryview(first)[:count], 200, {'Content-Type': _HTML})
        # The first chunk goes out first, then what did not fit in it.
        page.rest, page.after = memoryview(first)[:count], page.rest
        return Response(page, 200, {'Content-Type': _HTML})

    def _load(self, path):
        """The cache entry for the template at ``path``, compiled or imported; None if missing."""
        source = stat(path)
        folder, _, name = path.rpartition('/')
        module_path = (folder + '/' if folder else '') + module_name(name)
        for ext in ('.mpy', '.py'):
            found = stat(module_path + ext)
            if found is not None:
                break
        # A precompiled module wins unless the template's source is newer.
        precompiled = found is not None and (source is None or source[1] <= found[1])
        if precompiled:
            path, source = module_path + ext, found
        elif source is None:
            return None
        entry = self._cache.get(path)
        if entry is not None and entry[1] == source and all(
                [stat(dep) == seen for dep, seen in entry[2]]):
            return entry
        file_name = None
        if precompiled:
            sys.path.insert(0, folder or '.')
            try:
                module = __import__(module_name(name))
            finally:
                sys.path.pop(0)
                unload(module_name(name))  # the cache keeps what it needs of it
            file_name = getattr(module, '__file__', None)
            namespace = module.__dict__
            deps = ()
        else:
            from weblet import pyhtml_compiler
            try:
                namespace, deps = pyhtml_compiler.build(path)
            finally:
                # Compiling is rare: give the compiler's heap back until it is needed again.
                unload('weblet.pyhtml_compiler')
        files = namespace['FILES']
        entry = (path, source, deps, namespace['render'], namespace, namespace['LINES'],
                 files, (files[0], file_name))
        if path not in self._cache and len(self._cache) >= self.cache_size:
            self._cache.pop(next(iter(self._cache)))
        self._cache[path] = entry
        return entry

    def pages(self, folder=None):
        """A plugin rendering ``GET /x.pyhtml`` from ``folder`` (default: this one), with ``request``.

        As MicroWebSrv2 does, the URL path is looked up under the folder; a
        path with an empty, ``.`` or ``..`` segment, or no such template,
        goes on to the app's routes (usually a 404). GET and HEAD only. The
        pages share this object's globals and cache.

        :param folder: the folder the URL paths map to.

        Example::

            app.use(tpl.pages('www'))   # GET /status.pyhtml -> www/status.pyhtml
        """
        if folder is not None and (not isinstance(folder, str) or not folder):
            raise ValueError('pages(folder=%r): must be a non-empty str' % (folder,))
        return _Pages(self, (folder or self.folder).rstrip('/'))


class _Pages:
    """The plugin :meth:`Templates.pages` returns."""

    def __init__(self, templates, folder):
        self.templates = templates
        self.folder = folder

    def install(self, app):
        app.before_request(self.answer)

    def answer(self, req):
        path = req.path
        if not path.endswith('.pyhtml') or req.method not in ('GET', 'HEAD'):
            return None
        for part in path[1:].split('/'):
            if part in ('', '.', '..') or '\\' in part or '\0' in part:
                return None
        entry = self.templates._load(self.folder + path)
        if entry is None:
            return None
        return self.templates._render(entry, {'request': req})
