"""weblet-static: serve files from a folder, safely, with caching, gzip, ranges and downloads.

Security model: a URL path is checked before it touches the file system
(400 for a segment starting with a dot, so ``.`` and ``..`` too, an empty
segment, so an absolute path too, a backslash, a colon, a control character
or NUL byte, or more than 255 characters), then walked one segment at a time
from the root. Only directories and regular files are followed: a symbolic
link anywhere below the root is treated as missing (404), whether it points
inside or outside the root. CPython detects links with ``os.lstat``.
MicroPython has no ``lstat`` and its ``os.stat`` follows links, so on the unix
port each segment's type is read from ``os.ilistdir`` of its folder (device
file systems, FAT and littlefs, have no links). The root itself may be a
link: it is resolved once, when :class:`Static` is made, by changing into it
and reading ``os.getcwd()`` (MicroPython has no ``realpath``).
"""
import os
from time import gmtime

from weblet import Response, HTTPError, MICROPYTHON, escape_html, quote

# CPython's lstat sees a link instead of following it; MicroPython has none.
lstat = None if MICROPYTHON else os.lstat
# The MicroPython unix port has links but no lstat: read types from ilistdir.
LINKS_VIA_LISTING = MICROPYTHON and hasattr(os, 'VfsPosix')
# st_mode & 0xF000 is 0x4000 for a directory, 0x8000 for a regular file.
_DAYS = 'MonTueWedThuFriSatSun'
_MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec'
# One string rather than a dict: a fraction of the heap. A type without '/'
# is under 'application/'; a trailing '*' stands for '; charset=utf-8'.
# add_mime_type prepends, so its entries win.
_TYPES = (
    '\n.txt text/plain*\n.htm text/html*\n.html text/html*\n.css text/css*'
    '\n.csv text/csv*\n.js text/javascript*\n.mjs text/javascript*\n.json json*'
    '\n.map json*\n.xml xml*\n.xhtml xhtml+xml*\n.svg image/svg+xml*'
    '\n.ico image/x-icon\n.png image/png'
    '\n.jpg image/jpeg\n.jpeg image/jpeg\n.gif image/gif\n.webp image/webp'
    '\n.woff font/woff\n.woff2 font/woff2\n.ttf font/ttf\n.otf font/otf\n.wasm wasm'
    '\n.zip zip\n.gz gzip\n.pdf pdf\n.ts typescript\n.mp3 audio/mpeg\n.mp4 video/mp4'
    '\n.bin octet-stream\n')


def add_mime_type(extension, content_type):
    """Add or replace the ``Content-Type`` served for files ending in ``extension``.

    :param extension: the file name extension with its dot, e.g. ``'.tar'``
        (matched without regard to case).
    :param content_type: the ``Content-Type`` value, used as it is, e.g.
        ``'application/x-tar'`` or ``'text/markdown; charset=utf-8'``.

    Example::

        add_mime_type('.tar', 'application/x-tar')
    """
    global _TYPES
    if (not isinstance(extension, str) or not isinstance(content_type, str)
            or extension[:1] != '.' or ' ' in extension or '/' not in content_type
            or '\n' in extension + content_type):
        raise ValueError("add_mime_type(%r, %r): need '.ext' and 'type/subtype'"
                         % (extension, content_type))
    _TYPES = '\n%s %s%s' % (extension.lower(), content_type, _TYPES)


def _entry(folder, name):
    """The stat of ``folder/name`` if it is a directory or a regular file and not a link."""
    path = folder + '/' + name
    try:
        if lstat is not None:
            st = lstat(path)
        else:
            if LINKS_VIA_LISTING:
                kind = 0
                for item in os.ilistdir(folder or '/'):  # read to the end: closes the dir
                    if item[0] == name:
                        kind = item[1]
                if kind != 0x4000 and kind != 0x8000:  # a link, or a type we cannot tell
                    return None
            st = os.stat(path)
    except OSError:
        return None
    kind = st[0] & 0xF000
    return st if kind == 0x4000 or kind == 0x8000 else None


class _FilePart:
    """A file-like body: the bytes of the file at ``path`` from ``start``, as many
    as the response's Content-Length (the core reads no further, and closes the
    connection if the file has shrunk). Read through the core's shared buffer;
    opened at the first read, once the head is sent, so HEAD never opens it."""

    file = None

    def __init__(self, path, start):
        self.path = path
        self.start = start

    def readinto(self, buf):
        if self.file is None:
            self.file = open(self.path, 'rb')
            self.file.seek(self.start)
        return self.file.readinto(buf)

    def close(self):
        if self.file is not None:
            self.file.close()


def _respond(req, path, st, name, packed, max_age, attachment=None):
    """The response for file ``path`` (stat ``st``), typed after ``name``.

    ``packed`` is 0 without a ``.gz`` twin, 1 with one, 2 for the twin itself.
    """
    size = st[6]
    mtime = st[8]
    etag = '"%x-%x"' % (mtime, size)
    # gmtime reads the port's own epoch (1970, or 2000 on some boards), as os.stat does.
    date = gmtime(mtime)
    y, mo, d, h, mi, s, wd = date[:7]
    modified = '%s, %02d %s %d %02d:%02d:%02d GMT' % (
        _DAYS[wd * 3:wd * 3 + 3], d, _MONTHS[mo * 3 - 3:mo * 3], y, h, mi, s)
    headers = {'ETag': etag, 'Last-Modified': modified,
               'Cache-Control': 'max-age=%d' % max_age if max_age else 'no-cache'}
    if packed:
        headers['Vary'] = 'Accept-Encoding'
    get = req.headers.get
    match = get('if-none-match')
    since = get('if-modified-since')
    fresh = False
    if match is not None:  # wins over If-Modified-Since (RFC 9110 13.2.2)
        fresh = match.strip() == '*' or etag in match
    elif since:
        try:
            _, d, mo, y, h, _ = since.split()
            h, mi, s = h.split(':')
            fresh = (int(y), _MONTHS.find(mo) // 3 + 1, int(d), int(h), int(mi),
                     int(s)) >= date[:6]
        except ValueError:  # not an IMF-fixdate: ignore it
            pass
    if fresh:
        return Response(None, 304, headers)
    ext = '\n%s ' % name[name.rfind('.'):].lower()  # no dot: never in the table
    at = _TYPES.find(ext)
    kind = _TYPES[at + len(ext):_TYPES.find('\n', at + 1)] if at >= 0 else 'octet-stream'
    if '/' not in kind:
        kind = 'application/' + kind
    if kind[-1] == '*':
        kind = kind[:-1] + '; charset=utf-8'
    headers['Content-Type'] = kind
    headers['Accept-Ranges'] = 'bytes'
    if packed == 2:
        headers['Content-Encoding'] = 'gzip'
    if attachment:
        if attachment is True:
            attachment = name[name.rfind('/') + 1:]
        # A name that needs escaping goes percent-encoded as UTF-8 (RFC 6266,
        # RFC 8187), and percent-encoded in the plain parameter for old clients.
        quoted = quote(attachment)
        value = 'attachment; filename="%s"' % quoted
        if quoted != attachment:
            value += "; filename*=UTF-8''" + quoted
        headers['Content-Disposition'] = value
    start, end, status = 0, size - 1, 200
    ranges = get('range')
    condition = get('if-range')
    if ranges and (not condition or condition == etag or condition == modified):
        try:
            unit, spec = ranges.split('=')
            first, last = spec.strip().split('-')  # several ranges: ValueError
            if unit.strip().lower() != 'bytes':
                raise ValueError
            if first:
                first = int(first)
                last = min(int(last), end) if last else end
            else:  # the last n bytes; n = 0 (or an empty file) leaves nothing
                first, last = max(size - int(last), 0), end
            if first >= size:
                headers['Content-Range'] = 'bytes */%d' % size
                return Response(None, 416, headers)
            if first <= last:
                start, end, status = first, last, 206
                headers['Content-Range'] = 'bytes %d-%d/%d' % (start, end, size)
        except ValueError:  # malformed, or several ranges: the whole file
            pass
    headers['Content-Length'] = end - start + 1
    return Response(_FilePart(path, start), status, headers)


async def send_file(req, path, attachment=None, max_age=0):
    """Answer with the file at ``path``: type, caching, 304s, ranges and HEAD included.

    ``path`` is a path on the device chosen by your code, not by the client;
    it is not checked for traversal. A missing file (or a directory) is
    ``HTTPError(404)``.

    :param req: the request being answered.
    :param path: the file to send.
    :param attachment: ``True`` to offer the file as a download under its own
        name, or a ``str`` file name to offer it under (``Content-Disposition``).
    :param max_age: seconds clients may cache it (``Cache-Control: max-age``);
        ``0`` sends ``no-cache`` (clients revalidate, and get a 304 if unchanged).

    Example::

        @app.get('/log')
        async def log(req):
            return await send_file(req, '/data/log.csv', attachment='log.csv')
    """
    if (not isinstance(path, str) or not isinstance(max_age, int) or max_age < 0
            or attachment is not None
            and attachment is not True and not isinstance(attachment, str)):
        raise ValueError('send_file(path=%r, attachment=%r, max_age=%r): bad argument'
                         % (path, attachment, max_age))
    try:
        st = os.stat(path)
    except OSError:
        st = (0,)
    if st[0] & 0xF000 != 0x8000:
        raise HTTPError(404)
    return _respond(req, path, st, path, 0, max_age, attachment)


class Static:
    """Serve the files under ``root`` at URL paths under ``prefix``, for GET and HEAD.

    A request whose file does not exist goes on to the app's routes (and so
    to a 404 if none matches). A directory serves its first existing
    ``index`` page; without one it is a 404, or an HTML listing with
    ``listing=True``. A directory asked for without its trailing slash is
    redirected (301) to it. Bad paths are answered 400 (see the module's
    security notes).

    :param root: the folder to serve; it must exist. It is made absolute and
        its links are resolved once, now.
    :param prefix: the URL path the files appear under, e.g. ``'/static/'``
        (default ``'/'``).
    :param max_age: seconds clients may cache files (``0``: ``no-cache``,
        revalidate every time).
    :param index: names (without ``/``) of a directory's default pages, tried
        in order.
    :param gzip: serve ``name.gz`` in place of ``name`` with
        ``Content-Encoding: gzip`` when the client accepts gzip, or when only
        the ``.gz`` file exists.
    :param not_found_url: redirect (302) GET and HEAD requests under
        ``prefix`` that end in a 404 to this URL.
    :param listing: list the files of a directory without an index page.

    Example::

        app.use(Static('/www', max_age=86400))
        app.use(Static('/sd/logs', prefix='/logs/', max_age=0, listing=True))
    """

    def __init__(self, root, prefix='/', max_age=86400,
                 index=('index.html', 'index.htm', 'default.html', 'default.htm'),
                 gzip=True, not_found_url=None, listing=False):
        for arg, value, ok in (
                ('prefix', prefix, isinstance(prefix, str) and prefix[:1] == '/'),
                ('max_age', max_age, isinstance(max_age, int) and max_age >= 0),
                ('index', index, isinstance(index, (tuple, list))),
                ('not_found_url', not_found_url, isinstance(not_found_url, (str, type(None))))):
            if not ok:
                raise ValueError('Static(%s=%r): not allowed' % (arg, value))
        here = os.getcwd()
        try:
            # The OS resolves links and '..' in the working directory's name.
            os.chdir(root)
            root = os.getcwd()
        except (OSError, TypeError):
            raise ValueError('Static(root=%r): not a folder' % (root,))
        finally:
            os.chdir(here)
        self.root = root.rstrip('/')
        self.prefix = prefix.rstrip('/') + '/'
        self.max_age = max_age
        self.index = index
        self.gzip = gzip
        self.not_found_url = not_found_url
        self.listing = listing

    def install(self, app):
        app.before_request(self.serve)
        if self.not_found_url:
            app.after_request(self.redirect_missing)

    def serve(self, req):
        """The before-request hook: a file's response, or ``None`` to go on to the routes."""
        path = req.path
        if req.method != 'GET' and req.method != 'HEAD' or not (path + '/').startswith(
                self.prefix):
            return None
        rel = path[len(self.prefix):]
        slashed = '/' + rel
        # No '.', '..' or dot-names, no empty segments (absolute paths), no
        # backslashes, drive colons or control characters. The path's bytes are
        # walked, not its characters: MicroPython keeps each character a str is
        # walked by for good, and a client sending new ones filled the heap.
        if (len(rel) > 255 or '//' in slashed or '/.' in slashed or '\\' in rel
                or ':' in rel or rel and min(rel.encode()) < 32):
            raise HTTPError(400, 'bad path')
        parts = rel.split('/')
        name = parts.pop()
        folder = self.root
        for part in parts:
            st = _entry(folder, part)
            if st is None or st[0] & 0xF000 != 0x4000:
                return None
            folder += '/' + part
        st = _entry(folder, name) if name else None
        names = (name,)
        is_dir = not name or st is not None and st[0] & 0xF000 == 0x4000
        if is_dir:
            if not path.endswith('/'):  # relative links in the page need the slash
                return Response.redirect(quote(path[path.rfind('/') + 1:]) + '/', 301)
            if name:
                folder += '/' + name
            names = self.index
        for name in names:
            if is_dir:
                st = _entry(folder, name)
            packed = _entry(folder, name + '.gz') if self.gzip else None
            if packed is not None and packed[0] & 0xF000 != 0x8000:
                packed = None
            if packed is not None and (st is None or 'gzip' in req.headers.get(
                    'accept-encoding', '')):
                return _respond(req, folder + '/' + name + '.gz', packed, name, 2,
                                self.max_age)
            if st is not None and st[0] & 0xF000 == 0x8000:
                return _respond(req, folder + '/' + name, st, name, packed is not None,
                                self.max_age)
        if is_dir and self.listing:
            return Response(_listing(folder, path),
                            headers={'Content-Type': 'text/html; charset=utf-8'})
        return None

    def redirect_missing(self, req, resp):
        """The after-request hook for ``not_found_url``."""
        path = req.path
        if (resp.status == 404 and (req.method == 'GET' or req.method == 'HEAD')
                and (path + '/').startswith(self.prefix) and path != self.not_found_url):
            return Response.redirect(self.not_found_url)
        return None


def _listing(folder, path):
    """An HTML list of ``folder``'s directories and files, streamed, names escaped."""
    yield '<!DOCTYPE html>\n<title>Index of %s</title>\n<ul>\n' % escape_html(path)
    for name in sorted(os.listdir(folder or '/')):
        st = _entry(folder, name)
        if st is not None and name[0] != '.':  # dot-names are never served
            if st[0] & 0xF000 == 0x4000:
                name += '/'
            yield '<li><a href="%s">%s</a>\n' % (quote(name), escape_html(name))
    yield '</ul>\n'
