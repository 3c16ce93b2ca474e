"""tools/pyhtml_compile.py and weblet-pyhtml's pure functions, on CPython.

Rendering, on both interpreters, is tested over sockets in test_pyhtml.py.
"""
import os
import subprocess
import sys

import pytest

import pyhtml_compile  # tools/pyhtml_compile.py: also puts weblet-pyhtml on weblet's path
from weblet.pyhtml import TemplateError, escape, module_name
from weblet.pyhtml_compiler import to_python

TOOL = pyhtml_compile.__file__


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('value, expected', [
    ('<a href="x">&\'</a>', '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;'),
    ('&amp;', '&amp;amp;'), ('plain', 'plain'), (None, ''), (42, '42'), (1.5, '1.5'),
    (['<'], "[&#39;&lt;&#39;]"), ('', '')])
def test_escape(value, expected):
    assert escape(value) == expected


@pytest.mark.parametrize('name, expected', [
    ('status.pyhtml', 'status_pyhtml'), ('my-page.v2.pyhtml', 'my_page_v2_pyhtml'),
    ('caf\u00e9.pyhtml', 'caf__pyhtml')])
def test_module_name(name, expected):
    assert module_name(name) == expected


def test_lines_map_one_entry_per_generated_line(tmp_path):
    write(str(tmp_path / 'a.pyhtml'),
          'x\n{{ for i in y }}\n{{ include "b.pyhtml" }}{{ i }}\n{{ end }}\n{{ py }}\n'
          '    z = (1 +\n         2)\n{{ end }}{{ z }}')
    write(str(tmp_path / 'b.pyhtml'), 'b\n{{ i }}')
    source, deps, files, lines = to_python('a.pyhtml', str(tmp_path))
    assert files == ('a.pyhtml', 'b.pyhtml')
    assert [path for path, _ in deps] == [str(tmp_path / 'a.pyhtml'), str(tmp_path / 'b.pyhtml')]
    assert len([c for c in lines if ord(c) >= 32]) == source.count('\n')
    compile(source, 'a.pyhtml', 'exec')


def test_tool_writes_py_modules_in_sub_folders(tmp_path):
    write(str(tmp_path / 'src' / 'index.pyhtml'), '{{ include "parts/head.pyhtml" }}body')
    write(str(tmp_path / 'src' / 'parts' / 'head.pyhtml'), '<head>{{ title }}</head>')
    write(str(tmp_path / 'src' / 'notes.txt'), 'not a template')
    result = run_tool(tmp_path / 'src', tmp_path / 'out')
    assert result.returncode == 0, result.stderr
    assert 'pyhtml_compile: 2 templates' in result.stdout
    found = sorted(os.path.relpath(os.path.join(d, f), str(tmp_path / 'out'))
                   for d, _, files in os.walk(str(tmp_path / 'out')) for f in files)
    assert found == ['index_pyhtml.py', os.path.join('parts', 'head_pyhtml.py')]
    source = (tmp_path / 'out' / 'index_pyhtml.py').read_text()
    assert source.startswith('# weblet-pyhtml: compiled from index.pyhtml; do not edit\n')
    namespace = {}
    exec(compile(source, 'index_pyhtml.py', 'exec'), namespace)
    assert namespace['FILES'] == ('index.pyhtml', 'parts/head.pyhtml')


def test_tool_mpy_replaces_py_and_back(tmp_path):
    write(str(tmp_path / 'src' / 'page.pyhtml'), 'hi {{ name }}')
    out = tmp_path / 'out'
    assert run_tool(tmp_path / 'src', out).returncode == 0
    result = run_tool(tmp_path / 'src', out, '--mpy')
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(str(out))) == ['page_pyhtml.mpy']
    assert (out / 'page_pyhtml.mpy').read_bytes()[:1] == b'M'
    assert run_tool(tmp_path / 'src', out).returncode == 0
    assert sorted(os.listdir(str(out))) == ['page_pyhtml.py']


@pytest.mark.parametrize('template, where', [
    ('ok\n\n{{ if x }}\n', 'bad.pyhtml, line 3: unclosed {{ if }}'),
    ('ok\n{{ 1 + }}', 'bad.pyhtml, line 2: SyntaxError'),
    ('{{ py }}\n    a = 1\n     b = 2\n{{ end }}', 'bad.pyhtml, line 3: IndentationError'),
    ('x {{ include "parts/p.pyhtml" }}', 'parts/p.pyhtml, line 2: stray {{ end }}')])
def test_tool_reports_file_and_line_and_writes_nothing(tmp_path, template, where):
    write(str(tmp_path / 'src' / 'bad.pyhtml'), template)
    write(str(tmp_path / 'src' / 'parts' / 'p.pyhtml'), 'p\n{{ end }}')
    result = run_tool(tmp_path / 'src', tmp_path / 'out')
    assert result.returncode == 1
    assert where in result.stderr, result.stderr
    assert not (tmp_path / 'out').exists()


def test_tool_refuses_two_templates_with_one_module_name(tmp_path):
    write(str(tmp_path / 'src' / 'a-b.pyhtml'), 'one')
    write(str(tmp_path / 'src' / 'a_b.pyhtml'), 'two')
    result = run_tool(tmp_path / 'src', tmp_path / 'out')
    assert result.returncode == 1
    assert 'a-b.pyhtml and a_b.pyhtml both become module a_b_pyhtml' in result.stderr


def test_tool_needs_a_source_folder(tmp_path):
    result = run_tool(tmp_path / 'missing', tmp_path / 'out')
    assert result.returncode == 1 and 'is not a folder' in result.stderr


def test_to_python_raises_template_error(tmp_path):
    write(str(tmp_path / 't.pyhtml'), 'a\n{{ for x in y }}{{ else }}{{ end }}')
    with pytest.raises(TemplateError) as info:
        to_python('t.pyhtml', str(tmp_path))
    assert str(info.value) == 't.pyhtml, line 2: {{ else }} inside {{ for }} (opened at line 2)'
