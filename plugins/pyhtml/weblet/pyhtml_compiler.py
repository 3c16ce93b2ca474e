"""weblet-pyhtml's compiler: a ``.pyhtml`` template to Python source for a generator function.

:mod:`weblet.pyhtml` imports it only when a template has to be compiled (on
the device, or by ``tools/pyhtml_compile.py``); precompiled templates never
load it. The generated module defines:

``FILES``
    the template's file name, then one name per ``{{ include }}``;
``LINES``
    one character per line of the generated source: ``chr(32 + n)`` means
    "this line comes from the template line ``n`` lines after the previous
    one of the same file", and a character below 32 switches to
    ``FILES[ord(c)]``. Errors are reported with it as template lines;
``render(__escape, __text)``
    the generator yielding the page's pieces: ``bytes`` for literal text,
    ``str`` for values (never ``None``).

Includes are copied in where they appear, so an included template sees
every variable of the place it is included from, loop variables included.
"""
from weblet.pyhtml import TemplateError, stat, where

# Words that start no block of ours: as a tag's first word they are an error,
# not an expression that would fail later (or print a function's repr).
_UNKNOWN = ('while', 'try', 'except', 'finally', 'with', 'def', 'class', 'return', 'break',
            'continue', 'pass', 'raise', 'del', 'global', 'nonlocal', 'assert', 'import',
            'from', 'async', 'await', 'yield', 'pyend', 'endif', 'endfor', 'endpy',
            'endwhile', 'case', 'match')
_MAX_FILES = 32  # LINES switches files with one character below 32


def _join(folder, name):
    """``folder/name`` with ``.`` and ``..`` segments resolved."""
    path = folder + '/' + name if folder else name
    parts = []
    for part in path.split('/'):
        if part == '..' and parts and parts[-1] != '..':
            parts.pop()
        elif part not in ('', '.'):
            parts.append(part)
    return '/' * (path[:1] == '/') + '/'.join(parts)


class _Writer:
    """The generated source, its LINES map and the state of the blocks being parsed."""

    def __init__(self, root):
        self.root = root
        self.lines = []
        self.map = []
        self.files = []
        self.last = []      # per file index: the template line of its last generated line
        self.current = 0    # the file index the map is at
        self.deps = []      # (path, (size, mtime)) of every file read
        self.stack = []     # open blocks: [kind, file index, line]
        self.empty = False  # the innermost block has no statement yet

    def fail(self, index, line, message):
        raise TemplateError('%s, line %d: %s' % (self.files[index], line, message))

    def emit(self, text, index, line, indent=None):
        """Add ``text`` (one statement, maybe spanning lines) from ``files[index]``, ``line``."""
        if indent is None:
            indent = len(self.stack) + 1
        for number, part in enumerate(text.split('\n')):
            if index != self.current:
                self.map.append(chr(index))
                self.current = index
            self.map.append(chr(32 + line + number - self.last[index]))
            self.last[index] = line + number
            self.lines.append(' ' * indent + part if number == 0 else part)

    def close_body(self, index, line):
        if self.empty:  # Python needs a statement in every block
            self.emit('pass', index, line)
            self.empty = False

    def parse(self, name, chain=()):
        """Generate the code of template ``name`` (relative to the root) where it is included."""
        index = len(self.files)
        self.files.append(name)
        self.last.append(0)
        if index >= _MAX_FILES:
            self.fail(index, 1, 'more than %d includes' % (_MAX_FILES - 1))
        path = _join(self.root, name) if self.root else name
        with open(path, 'rb') as f:
            text = f.read().decode()
        self.deps.append((path, stat(path)))
        depth = len(self.stack)
        pos = 0
        line = 1
        while True:
            start = text.find('{{', pos)
            literal = text[pos:] if start < 0 else text[pos:start]
            if literal:
                self.emit('yield %r' % literal.encode(), index, line)
                self.empty = False
                line += literal.count('\n')
            if start < 0:
                break
            end = text.find('}}', start + 2)
            if end < 0:
                self.fail(index, line, "'{{' without '}}'")
            tag = text[start + 2:end]
            content = tag.strip()
            tag_line = line + tag[:len(tag) - len(tag.lstrip())].count('\n')
            line += tag.count('\n')
            pos = end + 2
            if content[:1] == '!':
                if not content[1:].strip():
                    self.fail(index, tag_line, 'empty {{! }}')
                self.emit('yield __text(%s)' % content[1:].strip(), index, tag_line)
                self.empty = False
                continue
            words = content.split(None, 1)
            word = words[0] if words else ''
            rest = words[1] if len(words) > 1 else ''
            if word == 'py':
                pos, line = self.code(text, pos, line, index, tag_line, rest)
            elif word == 'include':
                self.include(rest, index, tag_line, chain + (name,))
            else:
                self.tag(word, rest, content, index, tag_line, depth)
        if len(self.stack) > depth:
            kind, opened_in, opened_at = self.stack[-1]
            self.fail(opened_in, opened_at, 'unclosed {{ %s }} (no {{ end }})'
                      % ('if' if kind == 'else' else kind))

    def tag(self, word, rest, content, index, line, depth):
        """One ``{{ ... }}`` tag other than ``py`` and ``include``."""
        stack = self.stack
        if not content:
            self.fail(index, line, 'empty {{ }}')
        if word in ('if', 'elif', 'for') and not rest:
            self.fail(index, line, '{{ %s }} needs %s' % (
                word, 'a condition' if word != 'for' else "'name in iterable'"))
        if word in ('else', 'end') and rest:
            self.fail(index, line, '{{ %s }} takes nothing, not %r' % (word, rest))
        if word in ('elif', 'else', 'end'):
            if len(stack) <= depth:
                self.fail(index, line, 'stray {{ %s }}' % word)
            if word != 'end' and stack[-1][0] != 'if':
                self.fail(index, line, '{{ %s }} inside {{ %s }} (opened at line %d)'
                          % (word, stack[-1][0], stack[-1][2]))
            self.close_body(index, line)
        if word == 'if' or word == 'for':
            self.emit('if (%s):' % rest if word == 'if' else 'for %s:' % rest, index, line)
            stack.append([word, index, line])
            self.empty = True
        elif word == 'elif' or word == 'else':
            self.emit('elif (%s):' % rest if word == 'elif' else 'else:', index, line,
                      len(stack))
            if word == 'else':
                stack[-1][0] = 'else'
            self.empty = True
        elif word == 'end':
            stack.pop()
        elif word in _UNKNOWN:
            self.fail(index, line, 'unknown block {{ %s }}' % content)
        else:
            self.emit('yield __escape(%s)' % content, index, line)
            self.empty = False

    def code(self, text, pos, line, index, tag_line, rest):
        """A ``{{ py }} ... {{ end }}`` block: its code, dedented as MicroWebSrv2 does."""
        if rest:
            self.fail(index, tag_line, '{{ py }} takes nothing, not %r' % rest)
        start = text.find('{{', pos)
        if start < 0:
            self.fail(index, tag_line, 'unclosed {{ py }} (no {{ end }})')
        end = text.find('}}', start + 2)
        code = text[pos:start]
        close_line = line + code.count('\n')
        if end < 0:
            self.fail(index, close_line, "'{{' without '}}'")
        closing = text[start + 2:end].strip()
        if closing != 'end':
            self.fail(index, close_line, '{{ py }} must be closed by {{ end }}, not {{ %s }}'
                      % closing)
        lines = code.split('\n')
        margin = ''
        for text_line in lines:
            if text_line.strip():
                margin = text_line[:len(text_line) - len(text_line.lstrip())]
                break
        for number, text_line in enumerate(lines):
            text_line = text_line.rstrip('\r')
            if text_line.startswith(margin):
                text_line = text_line[len(margin):]
            if text_line.strip() and text_line.strip()[0] != '#':
                self.empty = False
            self.emit(text_line, index, line + number, None if text_line else 0)
        return end + 2, close_line + text[start + 2:end].count('\n')

    def include(self, rest, index, line, chain):
        quote = rest[:1]
        if len(rest) < 3 or quote not in ('"', "'") or rest[-1] != quote:
            self.fail(index, line, "{{ include }} needs a quoted file name, not %r" % rest)
        name = _join(chain[-1].rpartition('/')[0], rest[1:-1])
        if name in chain:
            self.fail(index, line, 'include cycle: %s' % ' -> '.join(chain + (name,)))
        try:
            self.parse(name, chain)
        except OSError as exc:
            self.fail(index, line, 'cannot include %r: %s' % (name, exc))


def to_python(name, root=''):
    """Compile the template ``name`` (a path under ``root``) to the source of a module.

    :param name: the template's path relative to ``root``; errors name it.
    :param root: the folder template names are relative to (``''``: the
        current folder, ``name`` being a path).
    :returns: ``(source, deps, files, lines)``: the module source, the
        ``(path, (size, mtime))`` of each file read, and the module's
        ``FILES`` and ``LINES``.
    :raises TemplateError: for a template syntax error, naming file and line.
    :raises OSError: if ``name`` cannot be read.

    Example::

        source = to_python('status.pyhtml', 'templates')[0]
    """
    writer = _Writer(root)
    writer.parse(name)
    writer.emit("yield b''", 0, writer.last[0])  # a generator even without output
    files = tuple(writer.files)
    lines = '    ' + ''.join(writer.map)  # the four lines of the header below
    return '\n'.join([
        '# weblet-pyhtml: compiled from %s; do not edit' % name,
        'FILES = %r' % (files,),
        'LINES = %r' % lines,
        'def render(__escape, __text):'] + writer.lines) + '\n', writer.deps, files, lines


def build(path):
    """Compile the template at ``path`` and run the result: ``(namespace, deps)``.

    :param path: the template's path; errors and tracebacks name it.
    :raises TemplateError: for a template or Python syntax error, naming the
        template file and line.
    """
    source, deps, files, lines = to_python(path)
    try:
        code = compile(source, path, 'exec')
    except SyntaxError as exc:
        raise TemplateError('%s: %s: %s' % (where(exc, (path,), lines, files),
                                            type(exc).__name__, exc.args[0] if exc.args else exc))
    namespace = {}
    exec(code, namespace)
    return namespace, deps[1:]
