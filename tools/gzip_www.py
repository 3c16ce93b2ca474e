"""Gzip a web folder for weblet-static, to flash to a device or serve from disk.

Usage::

    python tools/gzip_www.py SRC DST [--keep] [--min-size BYTES]
    python tools/gzip_www.py SRC

With DST, the folder SRC is mirrored into DST ready to flash: each text-like
file (HTML, CSS, JavaScript, JSON, SVG, ...) is stored only as ``name.gz``
when that is smaller, every other file is copied as it is. ``Static`` serves
``name.gz`` for ``name`` with ``Content-Encoding: gzip``, so the device holds
one small copy of each asset. ``--keep`` also keeps the uncompressed file,
for clients that do not accept gzip.

Without DST, ``name.gz`` is written next to each text-like file in SRC and the
originals stay: a folder served from disk then offers both.

Names starting with a dot are skipped (``Static`` never serves them), and so
are symbolic links (``Static`` never follows them). The gzip files carry no
name or time stamp, so the same input always gives the same bytes. Exit
status: 0 on success, 2 on a usage error.

Runs on CPython 3.9+ with the standard library only.
"""

import argparse
import gzip
import os
import shutil
import sys

# Files that compress well; everything else (images, fonts, archives) is copied.
COMPRESSIBLE = frozenset((
    '.html', '.htm', '.css', '.js', '.mjs', '.json', '.map', '.svg', '.txt', '.xml',
    '.xhtml', '.csv', '.ico', '.wasm', '.ttf', '.otf', '.md',
))


def compressible(name):
    """Whether ``name`` is a file type worth gzipping."""
    return os.path.splitext(name)[1].lower() in COMPRESSIBLE


def pack(data):
    """``data`` gzipped at the highest level, without a name or time stamp."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def walk(src):
    """``(relative path, absolute path)`` of the files under ``src``, sorted, skipping
    dot-names and links."""
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.')
                         and not os.path.islink(os.path.join(folder, d)))
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.startswith('.') or os.path.islink(path) or not os.path.isfile(path):
                print('skipped %s' % os.path.relpath(path, src))
                continue
            yield os.path.relpath(path, src), path


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def regenerated(rel, src):
    """Whether ``rel`` is a ``.gz`` twin this tool makes again from its source file."""
    base = rel[:-3]
    return rel.endswith('.gz') and compressible(base) and os.path.isfile(os.path.join(src, base))


def gzip_folder(src, dst=None, keep=False, min_size=0):
    """Gzip the text-like files of ``src`` into ``dst`` (or beside them when ``dst`` is None).

    :returns: ``(bytes before, bytes after)`` over the files written or kept.
    """
    before = after = 0
    for rel, path in walk(src):
        if regenerated(rel, src):
            continue
        with open(path, 'rb') as f:
            data = f.read()
        packed = pack(data) if compressible(rel) and len(data) >= min_size else None
        if packed is not None and len(packed) >= len(data):
            packed = None  # gzip would not save anything
        before += len(data)
        if dst is None:
            if packed is not None:
                write(path + '.gz', packed)
                print('%s: %d -> %d bytes' % (rel + '.gz', len(data), len(packed)))
            after += len(data) + (len(packed) if packed is not None else 0)
            continue
        target = os.path.join(dst, rel)
        if packed is None or keep:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(path, target)
            after += len(data)
        if packed is not None:
            write(target + '.gz', packed)
            after += len(packed)
            print('%s: %d -> %d bytes' % (rel + '.gz', len(data), len(packed)))
    return before, after


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Gzip the text-like files of a web folder for weblet-static.')
    parser.add_argument('src', help='the web folder')
    parser.add_argument('dst', nargs='?',
                        help='where to write the folder ready to flash (default: '
                             'write name.gz beside each file in SRC)')
    parser.add_argument('--keep', action='store_true',
                        help='in DST, keep the uncompressed file beside name.gz')
    parser.add_argument('--min-size', type=int, default=0, metavar='BYTES',
                        help='leave files smaller than this uncompressed (default 0)')
    args = parser.parse_args(argv)
    src = os.path.realpath(args.src)
    if not os.path.isdir(src):
        parser.error('SRC %r is not a folder' % args.src)
    dst = None
    if args.dst is not None:
        dst = os.path.realpath(args.dst)
        if dst == src or dst.startswith(src + os.sep):
            parser.error('DST %r must not be SRC or inside it' % args.dst)
        if os.path.exists(dst) and not os.path.isdir(dst):
            parser.error('DST %r is not a folder' % args.dst)
    elif args.keep:
        parser.error('--keep needs DST (without DST the originals always stay)')
    before, after = gzip_folder(src, dst, args.keep, args.min_size)
    print('total: %d -> %d bytes' % (before, after))
    return 0


if __name__ == '__main__':
    sys.exit(main())
