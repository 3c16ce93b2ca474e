"""The package tooling: check_packages (CI check of every package.json), build_index, footprint.

The real packages must pass the check; copies of the repository broken on
purpose must fail it with a message naming the problem. The end-to-end
installs with mip and mpremote are in test_distribution.py.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

import build_index  # tools/, put on sys.path by pyproject.toml's pytest pythonpath
import check_packages
import manifests

TOOLS = os.path.join(ROOT, 'tools')
TIMEOUT = 120
with open(os.path.join(ROOT, 'core', 'package.json')) as _f:
    CORE_VERSION = json.load(_f)['version']
NEXT_VERSION = CORE_VERSION + '.1'


def tool(name, *args):
    """Run ``tools/<name>.py ARGS``: exit code and combined output."""
    result = subprocess.run([sys.executable, os.path.join(TOOLS, name + '.py')] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    return result.returncode, result.stdout


def test_every_package_json_is_valid_and_the_root_is_their_union():
    problems = check_packages.problems()
    assert problems == [], 'package problems (fix the root with `python tools/check_packages.py --fix`):\n' + \
        '\n'.join(problems)


def test_check_packages_cli_passes_on_the_repository():
    code, output = tool('check_packages')
    assert code == 0, output
    packages, _ = manifests.load_packages()
    for package in packages:
        assert '%s %s' % (package.name, package.version) in output


def test_root_package_json_depends_on_every_package_by_name():
    with open(os.path.join(ROOT, 'package.json')) as f:
        root = json.load(f)
    packages, _ = manifests.load_packages()
    assert root['deps'][0] == ['weblet', packages[0].version]
    assert sorted(name for name, _ in root['deps']) == sorted(package.name for package in packages)
    assert 'urls' not in root


# --- a copy of the repository to break ---------------------------------------

@pytest.fixture
def repo(tmp_path):
    """A repository to break: a copy of core/ plus one small plugin, with its root package.json.

    Only the core is copied, so these tests of the tools do not depend on the
    state of the other plugins (the test above checks the real tree).
    """
    copy = tmp_path / 'repo'
    copy.mkdir()
    shutil.copytree(os.path.join(ROOT, 'core'), str(copy / 'core'),
                    ignore=shutil.ignore_patterns('__pycache__', '*.mpy'))
    add_plugin(copy, 'sample', module='sample')
    assert check_packages.fix_root(copy) is True
    assert check_packages.problems(copy) == []
    return copy


def add_plugin(repo, folder, module='extra', deps=(('weblet', CORE_VERSION),), version='0.1.0', source=None):
    base = repo / 'plugins' / folder
    (base / 'weblet').mkdir(parents=True)
    (base / 'weblet' / (module + '.py')).write_text(source or '"""An extra plugin."""\nVALUE = 1\n')
    manifest = {'urls': [['weblet/%s.py' % module, 'weblet/%s.py' % module]],
                'deps': [list(dep) for dep in deps], 'version': version}
    (base / 'package.json').write_text(json.dumps(manifest))
    return base


def test_a_new_plugin_makes_the_root_stale_and_fix_rewrites_it(repo):
    add_plugin(repo, 'extra')
    problems = check_packages.problems(repo)
    assert len(problems) == 1, problems
    assert 'is stale' in problems[0] and 'weblet-extra 0.1.0' in problems[0]
    assert 'python tools/check_packages.py --fix' in problems[0]
    code, output = tool('check_packages', '--root', repo)
    assert code == 1 and 'weblet-extra' in output and '--fix' in output, output

    code, output = tool('check_packages', '--fix', '--root', repo)
    assert code == 0 and 'rewrote' in output, output
    root = json.loads((repo / 'package.json').read_text())
    assert ['weblet-extra', '0.1.0'] in root['deps']
    assert root['deps'][0][0] == 'weblet'
    assert check_packages.problems(repo) == []
    assert check_packages.fix_root(repo) is False  # already the union: untouched


def test_a_removed_plugin_makes_the_root_stale(repo):
    root = json.loads((repo / 'package.json').read_text())
    root['deps'].append(['weblet-gone', '0.1.0'])
    (repo / 'package.json').write_text(json.dumps(root))
    problems = check_packages.problems(repo)
    assert len(problems) == 1 and 'weblet-gone' in problems[0], problems


def break_json(repo):
    (repo / 'core' / 'package.json').write_text('{"urls": [}')


def drop_version(repo):
    data = json.loads((repo / 'core' / 'package.json').read_text())
    del data['version']
    (repo / 'core' / 'package.json').write_text(json.dumps(data))


def missing_source(repo):
    data = json.loads((repo / 'core' / 'package.json').read_text())
    data['urls'].append(['weblet/ghost.py', 'weblet/ghost.py'])
    (repo / 'core' / 'package.json').write_text(json.dumps(data))


def absolute_install_path(repo):
    data = json.loads((repo / 'core' / 'package.json').read_text())
    data['urls'][0][0] = '/lib/weblet/__init__.py'
    (repo / 'core' / 'package.json').write_text(json.dumps(data))


def two_claims(repo):
    add_plugin(repo, 'copycat', module='app')


def mpy_claims(repo):
    base = add_plugin(repo, 'binary', module='binary')
    (base / 'weblet' / 'app.mpy').write_bytes(b'M\x06')
    data = json.loads((base / 'package.json').read_text())
    data['urls'].append(['weblet/app.mpy', 'weblet/app.mpy'])
    (base / 'package.json').write_text(json.dumps(data))


def no_core_dep(repo):
    add_plugin(repo, 'lonely', deps=())


def unknown_dep(repo):
    add_plugin(repo, 'needy', deps=(('weblet', CORE_VERSION), ('hmac', '3.4')))


def wrong_dep_version(repo):
    add_plugin(repo, 'old', deps=(('weblet', '0.0.1'),))


def unknown_key(repo):
    data = json.loads((repo / 'core' / 'package.json').read_text())
    data['dep'] = []
    (repo / 'core' / 'package.json').write_text(json.dumps(data))


@pytest.mark.parametrize('breakage, message', [
    (break_json, 'not valid JSON'),
    (drop_version, '"version" must be a non-empty string'),
    (missing_source, "source 'weblet/ghost.py' does not exist"),
    (absolute_install_path, 'must be a relative path'),
    (two_claims, 'weblet/app.py is claimed by two packages: weblet'),
    (mpy_claims, 'weblet/app.mpy is claimed by two packages'),
    (no_core_dep, 'a plugin must depend on the core'),
    (unknown_dep, "depends on 'hmac', which is not a package of this repository"),
    (wrong_dep_version, 'depends on weblet 0.0.1, but weblet is at version ' + CORE_VERSION),
    (unknown_key, 'unknown keys dep'),
])
def test_each_broken_package_is_reported(repo, breakage, message):
    breakage(repo)
    problems = check_packages.problems(repo, check_root=False)
    assert any(message in problem for problem in problems), problems
    code, output = tool('check_packages', '--root', repo)
    assert code == 1 and message in output, output


# --- build_index ---------------------------------------------------------------

def read_json(path):
    with open(str(path)) as f:
        return json.load(f)


def test_build_index_writes_the_layout_mip_reads(repo, tmp_path):
    out = tmp_path / 'index'
    code, output = tool('build_index', out, '--root', repo)
    assert code == 0, output
    built = build_index.build(out, repo)  # the same content again: allowed, a no-op
    packages, _ = manifests.load_packages(repo)
    core = packages[0]
    mpy = read_json(out / 'package' / built.mpy_version / 'weblet' / (core.version + '.json'))
    assert mpy == read_json(out / 'package' / built.mpy_version / 'weblet' / 'latest.json')
    assert mpy['v'] == 1 and mpy['version'] == core.version and 'deps' not in mpy
    assert [dest for dest, _ in mpy['hashes']] == [dest[:-3] + '.mpy' for dest, _ in core.urls]
    source = read_json(out / 'package' / 'py' / 'weblet' / 'latest.json')
    assert [dest for dest, _ in source['hashes']] == [dest for dest, _ in core.urls]
    for (dest, short), (_, relative) in zip(source['hashes'], core.urls):
        assert len(short) == 8
        assert (out / 'file' / short[:2] / short).read_bytes() == (repo / 'core' / relative).read_bytes()
    assert [package.name for package in packages] == ['weblet', 'weblet-sample']
    for plugin in packages[1:]:
        plugin_json = read_json(out / 'package' / built.mpy_version / plugin.name / 'latest.json')
        assert plugin_json['deps'] == [['weblet', core.version]]
    index = read_json(out / 'index.json')
    assert index['v'] == 2
    assert [entry['name'] for entry in index['packages']] == sorted(package.name for package in packages)
    assert index['packages'][0]['versions'] == {built.mpy_version: [core.version], 'py': [core.version]}
    assert build_index.verify(out) == []


def test_build_index_refuses_to_change_a_published_version(repo, tmp_path):
    out = tmp_path / 'index'
    build_index.build(out, repo)
    before = {path: path.read_bytes() for path in out.rglob('*.json') if path.name != 'index.json'}
    with open(str(repo / 'core' / 'weblet' / 'app.py'), 'a') as f:
        f.write('\nCHANGED = 1\n')
    code, output = tool('build_index', out, '--root', repo)
    assert code == 1, output
    assert 'refusing to overwrite the published' in output, output
    assert 'weblet/%s.json' % CORE_VERSION in output, output
    assert 'bump "version"' in output
    after = {path: path.read_bytes() for path in out.rglob('*.json') if path.name != 'index.json'}
    assert after == before, 'a refused build must write nothing'

    data = json.loads((repo / 'core' / 'package.json').read_text())
    data['version'] = NEXT_VERSION
    (repo / 'core' / 'package.json').write_text(json.dumps(data))
    # weblet-sample still pins weblet 0.1.0: inconsistent packages are refused too.
    code, output = tool('build_index', out, '--root', repo)
    assert code == 1, output
    assert 'depends on weblet %s, but weblet is at version %s' % (CORE_VERSION, NEXT_VERSION) in output, output
    data = json.loads((repo / 'plugins' / 'sample' / 'package.json').read_text())
    data['deps'] = [['weblet', NEXT_VERSION]]
    data['version'] = '0.2.0'  # its package json changes with its deps: a new version too
    (repo / 'plugins' / 'sample' / 'package.json').write_text(json.dumps(data))
    code, output = tool('build_index', out, '--root', repo)
    assert code == 0, output
    version = [name for name in os.listdir(str(out / 'package')) if name != 'py'][0]
    published = out / 'package' / version / 'weblet'
    assert sorted(os.listdir(str(published))) == sorted([CORE_VERSION + '.json', NEXT_VERSION + '.json',
                                                         'latest.json'])
    assert read_json(published / 'latest.json')['version'] == NEXT_VERSION
    old = published / (CORE_VERSION + '.json')
    assert old.read_bytes() == before[old], 'the published version must stay as it was'
    entry = read_json(out / 'index.json')['packages'][0]
    assert entry['version'] == NEXT_VERSION and entry['versions']['py'] == [CORE_VERSION, NEXT_VERSION]
    assert build_index.verify(out) == []


def test_build_index_refuses_invalid_packages(repo, tmp_path):
    missing_source(repo)
    code, output = tool('build_index', tmp_path / 'index', '--root', repo)
    assert code == 1 and "source 'weblet/ghost.py' does not exist" in output, output
    assert not (tmp_path / 'index').exists()


def test_build_index_reports_micropython_syntax_errors(repo, tmp_path):
    add_plugin(repo, 'match', module='match', source='x = 1\nmatch x:\n    case 1:\n        pass\n')
    code, output = tool('build_index', tmp_path / 'index', '--root', repo)
    assert code == 1 and 'mpy-cross failed' in output, output
    assert not (tmp_path / 'index').exists()


def test_build_index_verify_cli(repo, tmp_path):
    out = tmp_path / 'index'
    build_index.build(out, repo)
    assert tool('build_index', '--verify', out)[0] == 0
    victim = sorted((out / 'file').glob('*/*'))[0]
    victim.write_bytes(b'tampered')
    code, output = tool('build_index', '--verify', out)
    assert code == 1 and 'content does not match its hash' in output, output


# --- footprint -----------------------------------------------------------------

def test_footprint_tool_measures_every_package(tmp_path):
    """Keeps tools/footprint.py working; docs/footprint.rst itself need not be fresh."""
    out = tmp_path / 'footprint.rst'
    code, output = tool('footprint', '--out', out)
    assert code == 0, output
    text = out.read_text()
    assert text.startswith(':orphan:\n')
    assert 'Generated by ``python tools/footprint.py``' in text
    packages, _ = manifests.load_packages()
    rows = {}
    for line in text.splitlines():
        # The RST table's cells are separated by two spaces or more: label, files, flash,
        # then the heap on each build (n/a where this machine cannot make the build).
        cells = re.split(r'\s{2,}', line.strip())
        if len(cells) >= 4 and cells[1].isdigit():
            rows[cells[0]] = [int(cell) if cell.isdigit() else None for cell in cells[1:]]
    names = [package.name for package in packages]
    expected = names + ['import weblet'] + ['weblet + ' + name for name in names[1:]]
    if len(names) > 2:
        expected.append('everything (%d packages)' % len(names))
    assert sorted(rows) == sorted(expected), text
    for label, (files, flash, *heaps) in rows.items():
        assert files >= 1 and flash > 0 and heaps[0] > 0, (label, files, flash, heaps)
        assert all(heap is None or heap > 0 for heap in heaps), (label, heaps)
    core = rows['weblet']
    assert rows['import weblet'][1] < core[1] and rows['import weblet'][2] < core[2]
    for name in names[1:]:
        combined = rows['weblet + ' + name]
        assert combined[1] == core[1] + rows[name][1]  # flash adds up exactly
        assert combined[2] > core[2]
    for line in text.splitlines():
        if line.startswith('everything'):
            assert line in output  # the table is printed too


def test_install_page_includes_the_generated_table():
    with open(os.path.join(ROOT, 'docs', 'install.rst')) as f:
        install = f.read()
    assert '.. include:: footprint.rst' in install
    with open(os.path.join(ROOT, 'docs', 'footprint.rst')) as f:
        assert '\n.. footprint-table\n' in f.read()
