"""End to end: every package installs with the real mip and mpremote, then runs.

An index built by tools/build_index.py and the repository tree are served by
``python -m http.server`` on loopback. The MicroPython unix port runs its
frozen ``mip`` (which exits 0 even when it fails, so every install asserts its
final ``Done`` line), the test checks exactly which files landed and that
their contents match the index, then imports them and serves a page from the
installed tree. ``mpremote`` drives the unix port behind a ``socat`` pty, as
it would a board on a serial port. Broken copies of the index must fail loudly.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from conftest import ROOT, micropython_command, micropython_version, start_app, venv_command

import build_index  # tools/, put on sys.path by pyproject.toml's pytest pythonpath
import manifests
from footprint import module_name

# Every test here but one (the index's file names) runs MicroPython.
pytestmark = pytest.mark.micropython
TIMEOUT = 60
# mpremote drives a device through its raw REPL, which the unix port has from 1.27 on.
RAW_REPL_SINCE = (1, 27)
# The mip frozen into MicroPython 1.26 (0.4.1) resolves a package.json's relative urls;
# 1.24's (0.3.0) and older fetch them as they are (micropython-lib #975 changed it).
RELATIVE_URLS_SINCE = (1, 26)
PACKAGES, _LOAD_PROBLEMS = manifests.load_packages(ROOT)
BY_NAME = {package.name: package for package in PACKAGES}
PLUGINS = [package.name for package in PACKAGES if package.name != manifests.CORE_NAME]
FLAVOURS = ('mpy', 'py')


def require_relative_urls():
    """Skip where mip installs no package.json by URL: its urls are relative."""
    if micropython_version() < RELATIVE_URLS_SINCE:
        pytest.skip("the mip of MicroPython %d.%d.%d fetches a package.json's relative urls as they "
                    'are (mip resolves them from 0.4, in 1.26): weblet installs by name there, not by '
                    'URL' % micropython_version())


def require_package(name):
    """Skip, naming the package, until its folder exists (other work adds it later)."""
    if name not in BY_NAME:
        folder = 'plugins/%s/package.json' % name[len(manifests.PLUGIN_PREFIX):]
        pytest.skip('%s does not exist yet (%s is missing)' % (name, folder))


def closure(names):
    """The package names ``names`` install, dependencies included."""
    found, todo = [], list(names)
    while todo:
        name = todo.pop(0)
        if name not in found:
            found.append(name)
            todo.extend(dep for dep, _ in BY_NAME[name].deps if dep in BY_NAME)
    return found


def expected_files(names, mpy):
    """Install paths of ``names`` and their deps, with ``.mpy`` for ``.py`` when ``mpy``."""
    paths = set()
    for name in closure(names):
        for dest, _ in BY_NAME[name].sources():
            path = dest.with_suffix('.mpy') if mpy and dest.suffix == '.py' else dest
            paths.add(path.as_posix())
    return paths


def modules_of(names):
    """Import names of every module ``names`` install, dependencies included."""
    return [module for name in closure(names) for module in
            (module_name(dest) for dest, _ in BY_NAME[name].sources()) if module]


def files_in(target):
    """Every file under ``target`` as a relative POSIX path."""
    found = set()
    for folder, _, names in os.walk(target):
        for name in names:
            found.add(os.path.relpath(os.path.join(folder, name), target).replace(os.sep, '/'))
    return found


def installed_mismatches(target, index_dir, flavour, names):
    """Installed files whose SHA-256 does not start with the hash their package json lists."""
    wrong = []
    for name in closure(names):
        path = os.path.join(index_dir, 'package', flavour, name, BY_NAME[name].version + '.json')
        with open(path) as f:
            manifest = json.load(f)
        for dest, short in manifest['hashes']:
            with open(os.path.join(target, dest), 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            if not digest.startswith(short):
                wrong.append('%s: sha256 %s..., index says %s' % (dest, digest[:12], short))
    return wrong


class HttpServer:
    """``python -m http.server`` on a loopback port chosen by the OS."""

    def __init__(self, directory):
        self.proc = subprocess.Popen(
            [sys.executable, '-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', str(directory), '0'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = read_line(self.proc.stdout, TIMEOUT)
        if 'port' not in line.split():
            self.stop()
            pytest.fail('http.server did not start: %r' % line)
        # "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        self.port = int(line.split()[line.split().index('port') + 1])
        self.url = 'http://127.0.0.1:%d' % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()


def read_line(stream, timeout):
    """One line from ``stream``, or '' if none comes within ``timeout`` seconds."""
    lines = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ''


@pytest.fixture(scope='module')
def index_dir(tmp_path_factory):
    assert not _LOAD_PROBLEMS, _LOAD_PROBLEMS
    out = tmp_path_factory.mktemp('index') / 'index'
    build_index.build(out)
    assert build_index.verify(out) == []
    return str(out)


@pytest.fixture(scope='module')
def index(index_dir):
    server = HttpServer(index_dir)
    yield server.url
    server.stop()


@pytest.fixture(scope='module')
def tree():
    """The repository itself over HTTP: what ``github:owner/repo/...`` would serve."""
    server = HttpServer(ROOT)
    yield server.url
    server.stop()


@pytest.fixture(scope='module')
def mpy_version():
    result = subprocess.run([micropython_command(), '-c', 'import sys; print(sys.implementation._mpy & 0xff)'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    return result.stdout.strip()


def micropython_env(path):
    env = dict(os.environ)
    env['MICROPYPATH'] = path
    return env


def mip_install(target, index_url, *packages, mpy=True):
    """Run the unix port's frozen mip; returns its output (mip exits 0 even on failure)."""
    command = [micropython_command(), '-m', 'mip', 'install', '--target', str(target), '--index', index_url]
    if not mpy:
        command.append('--no-mpy')
    # MICROPYPATH=.frozen: only the frozen mip, never one from ~/.micropython/lib.
    result = subprocess.run(command + list(packages), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=TIMEOUT, env=micropython_env('.frozen'), cwd=str(target.parent))
    if result.returncode != 0:  # a later mip may exit non-zero on failure: then it did not finish either
        return result.stdout + '\nmip exited with status %d\n' % result.returncode
    return result.stdout


def assert_done(output):
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines and lines[-1] == 'Done', 'mip did not finish with Done:\n' + output


def assert_failed(output, *messages):
    assert 'Done' not in output.splitlines(), 'mip claims success on a broken index:\n' + output
    for message in messages:
        assert message in output, output


def import_from(target, modules):
    """Import ``modules`` in MicroPython with only ``target`` and the frozen modules on the path."""
    script = 'import sys\nfor m in sys.argv[1:]:\n    __import__(m)\n    print(m, sys.modules[m].__file__)\n'
    result = subprocess.run([micropython_command(), '-c', script] + modules, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
                            env=micropython_env('%s:.frozen' % target), cwd=str(target.parent))
    assert result.returncode == 0, result.stdout
    loaded = dict(line.split(' ', 1) for line in result.stdout.splitlines())
    assert set(loaded) == set(modules), result.stdout
    for module, path in loaded.items():
        assert path.startswith(str(target) + '/'), (module, path)
    return loaded


def fetch(app, path):
    conn = http.client.HTTPConnection(app.host, app.port, timeout=10)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def serve_hello(target):
    """Start tests/apps/hello.py on MicroPython from the installed tree; GET / must answer."""
    app = start_app({'py': str(target)}, 'micropython', 'hello')
    try:
        assert fetch(app, '/') == (200, b'<h1>hi</h1>')
    finally:
        app.stop()


# --- the index, as mip reads it ----------------------------------------------

def test_index_uses_the_mpy_version_mip_asks_for(index_dir, mpy_version):
    """mip asks for package/<sys.implementation._mpy & 0xff>/...: the index must have it."""
    assert mpy_version.isdigit(), mpy_version
    flavours = sorted(os.listdir(os.path.join(index_dir, 'package')))
    assert flavours == sorted([mpy_version, 'py'])
    for package in PACKAGES:
        for flavour in flavours:
            folder = os.path.join(index_dir, 'package', flavour, package.name)
            assert sorted(os.listdir(folder)) == sorted([package.version + '.json', 'latest.json'])


def test_index_files_are_named_by_sha256_prefix(index_dir):
    for folder in os.listdir(os.path.join(index_dir, 'file')):
        for name in os.listdir(os.path.join(index_dir, 'file', folder)):
            with open(os.path.join(index_dir, 'file', folder, name), 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            assert len(name) == build_index.HASH_LENGTH and folder == name[:2] and digest.startswith(name)


# --- mip install by name from the index ---------------------------------------

@pytest.mark.parametrize('flavour', FLAVOURS)
@pytest.mark.parametrize('name', [package.name for package in PACKAGES])
def test_mip_installs_each_package_by_name(tmp_path, index, index_dir, mpy_version, name, flavour):
    target = tmp_path / 'lib'
    output = mip_install(target, index, name, mpy=flavour == 'mpy')
    assert_done(output)
    assert files_in(target) == expected_files([name], flavour == 'mpy')
    assert installed_mismatches(target, index_dir, mpy_version if flavour == 'mpy' else 'py', [name]) == []
    import_from(target, modules_of([name]))
    serve_hello(target)


def test_mip_installs_a_pinned_version_and_skips_unchanged_files(tmp_path, index):
    target = tmp_path / 'lib'
    core = BY_NAME[manifests.CORE_NAME]
    assert_done(mip_install(target, index, '%s@%s' % (core.name, core.version)))
    again = mip_install(target, index, core.name)
    assert_done(again)
    assert again.count('Exists:') == len(core.urls), again
    assert files_in(target) == expected_files([core.name], True)


def test_mip_installs_several_packages_in_one_call(tmp_path, index):
    target = tmp_path / 'lib'
    output = mip_install(target, index, *[package.name for package in PACKAGES])
    assert output.count('Done') == len(PACKAGES), output
    assert_done(output)
    assert files_in(target) == expected_files(list(BY_NAME), True)
    import_from(target, modules_of(list(BY_NAME)))


def test_weblet_static_serves_files_after_mip_install(tmp_path, index):
    require_package('weblet-static')
    target = tmp_path / 'lib'
    assert_done(mip_install(target, index, 'weblet-static'))
    assert files_in(target) == expected_files(['weblet-static'], True)
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'hello.txt').write_text('hello from the installed tree\n')
    app = start_app({'py': str(target)}, 'micropython', 'distribution_static', str(www))
    try:
        assert fetch(app, '/files/hello.txt') == (200, b'hello from the installed tree\n')
        where = json.loads(fetch(app, '/where')[1])
        assert where == {'weblet': str(target / 'weblet' / '__init__.mpy'),
                         'weblet.static': str(target / 'weblet' / 'static.mpy')}
    finally:
        app.stop()


def test_weblet_websockets_installs_with_mip(tmp_path, index):
    require_package('weblet-websockets')
    target = tmp_path / 'lib'
    assert_done(mip_install(target, index, 'weblet-websockets'))
    assert files_in(target) == expected_files(['weblet-websockets'], True)
    import_from(target, modules_of(['weblet-websockets']))
    serve_hello(target)


# --- mip install by URL from the per-folder package.json ------------------------

def test_mip_installs_the_core_by_url(tmp_path, tree):
    """The core's package.json has relative urls and no deps: its folder is the install."""
    require_relative_urls()
    target = tmp_path / 'lib'
    # --index points at loopback too, so nothing here can reach micropython.org.
    output = mip_install(target, tree, tree + '/core/package.json', mpy=False)
    assert_done(output)
    assert files_in(target) == expected_files([manifests.CORE_NAME], False)
    for dest, source in BY_NAME[manifests.CORE_NAME].sources():
        assert (target / dest).read_bytes() == source.read_bytes()
    serve_hello(target)


@pytest.mark.parametrize('name', PLUGINS or ['(no plugin yet)'])
def test_mip_installs_a_plugin_by_url_with_the_core_from_the_index(tmp_path, tree, index, name):
    """A plugin's dep ``weblet`` is a name: mip resolves it from ``--index``."""
    require_relative_urls()
    if name not in BY_NAME:
        pytest.skip('no plugins/*/package.json exists yet')
    target = tmp_path / 'lib'
    folder = BY_NAME[name].folder.relative_to(ROOT).as_posix()
    output = mip_install(target, index, '%s/%s/package.json' % (tree, folder), mpy=False)
    assert_done(output)
    assert files_in(target) == expected_files([name], False)
    import_from(target, modules_of([name]))
    serve_hello(target)


def test_a_plugin_by_url_without_a_weblet_index_fails_loudly(tmp_path, tree):
    """Documented limit: with no index holding ``weblet``, the dependency cannot resolve."""
    require_relative_urls()
    if not PLUGINS:
        pytest.skip('no plugins/*/package.json exists yet')
    target = tmp_path / 'lib'
    folder = BY_NAME[PLUGINS[0]].folder.relative_to(ROOT).as_posix()
    output = mip_install(target, tree, '%s/%s/package.json' % (tree, folder), mpy=False)
    assert_failed(output, 'Package not found: %s/package/py/weblet/' % tree)


def test_the_root_package_json_installs_everything(tmp_path, tree, index, index_dir, mpy_version):
    """The root package.json depends on every package by name: one install, all of it, as .mpy."""
    target = tmp_path / 'lib'
    output = mip_install(target, index, tree + '/package.json')
    assert_done(output)
    assert files_in(target) == expected_files(list(BY_NAME), True)
    assert installed_mismatches(target, index_dir, mpy_version, list(BY_NAME)) == []
    import_from(target, modules_of(list(BY_NAME)))
    serve_hello(target)


# --- a broken index fails loudly ---------------------------------------------

@pytest.fixture
def broken_index(tmp_path, index_dir, mpy_version):
    """A private copy of the index to break, served on its own port: ``(dir, url, mpy_version)``."""
    copy = tmp_path / 'broken-index'
    shutil.copytree(index_dir, str(copy))
    server = HttpServer(copy)
    yield copy, server.url, mpy_version
    server.stop()


def package_json(index_copy, flavour, name, version='latest'):
    path = index_copy / 'package' / flavour / name / (version + '.json')
    return path, json.loads(path.read_text())


def test_unknown_package_fails(tmp_path, index):
    target = tmp_path / 'lib'
    output = mip_install(target, index, 'weblet-no-such-plugin')
    assert_failed(output, 'Package not found: %s/package/' % index)
    assert not target.exists() or files_in(target) == set()


def test_unknown_version_fails(tmp_path, index):
    target = tmp_path / 'lib'
    assert_failed(mip_install(target, index, 'weblet@99.0.0'), 'Package not found', '/weblet/99.0.0.json')
    assert not target.exists() or files_in(target) == set()


def test_missing_file_fails(tmp_path, broken_index):
    copy, url, flavour = broken_index
    _, manifest = package_json(copy, flavour, 'weblet')
    dest, short = manifest['hashes'][0]
    (copy / 'file' / short[:2] / short).unlink()
    assert any('missing' in problem for problem in build_index.verify(copy))
    target = tmp_path / 'lib'
    assert_failed(mip_install(target, url, 'weblet'), 'File not found: %s %s' % (dest, short))
    assert not target.exists() or files_in(target) == set()


def test_hash_in_package_json_without_its_file_fails(tmp_path, broken_index):
    copy, url, flavour = broken_index
    path, manifest = package_json(copy, flavour, 'weblet')
    dest, short = manifest['hashes'][-1]
    wrong = format(int(short, 16) ^ 0xffffffff, '08x')
    manifest['hashes'][-1][1] = wrong
    path.write_text(json.dumps(manifest))
    assert any(wrong in problem for problem in build_index.verify(copy))
    target = tmp_path / 'lib'
    assert_failed(mip_install(target, url, 'weblet'), 'File not found: %s %s' % (dest, wrong))
    assert dest not in files_in(target)


def test_file_whose_content_does_not_match_its_hash_is_caught(tmp_path, broken_index):
    """mip never re-hashes a download, so a corrupted file installs: verify() and the hash check catch it."""
    copy, url, flavour = broken_index
    _, manifest = package_json(copy, flavour, 'weblet')
    dest, short = manifest['hashes'][0]
    corrupted = copy / 'file' / short[:2] / short
    corrupted.write_bytes(corrupted.read_bytes()[:-1] + b'\0')
    problems = build_index.verify(copy)
    assert any('does not match its hash' in problem and short in problem for problem in problems), problems
    target = tmp_path / 'lib'
    output = mip_install(target, url, 'weblet')
    if 'Done' in output.splitlines():  # mip 0.4.2 and mpremote 1.29 trust the index
        mismatches = installed_mismatches(target, str(copy), flavour, ['weblet'])
        assert len(mismatches) == 1 and mismatches[0].startswith(dest + ':'), mismatches
    else:  # a mip that checks hashes refuses the file
        assert_failed(output)
        assert dest not in files_in(target)


def test_missing_dependency_fails(tmp_path, broken_index):
    if not PLUGINS:
        pytest.skip('no plugins/*/package.json exists yet')
    copy, url, flavour = broken_index
    shutil.rmtree(str(copy / 'package' / flavour / manifests.CORE_NAME))
    assert any('dependency weblet' in problem for problem in build_index.verify(copy))
    target = tmp_path / 'lib'
    output = mip_install(target, url, PLUGINS[0])
    assert_failed(output, 'Package not found: %s/package/%s/weblet/' % (url, flavour))
    assert not any(path.startswith('weblet/__init__') for path in files_in(target))


# --- mpremote against the unix port behind a socat pty ------------------------

def ensure_socat():
    """socat from PATH, installing the Debian package if we may; skip only if that fails."""
    found = shutil.which('socat')
    if found:
        return found
    apt = shutil.which('apt-get')
    if not apt or os.geteuid() != 0:
        pytest.skip('socat is not installed and cannot be installed here (need root and apt-get): '
                    'apt-get install -y socat')
    try:
        result = subprocess.run([apt, 'install', '-y', '-q', 'socat'], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=300)
        output = result.stdout
    except subprocess.TimeoutExpired:
        output = 'apt-get install -y socat timed out'
    found = shutil.which('socat')
    if not found:
        pytest.skip('socat is not installed and `apt-get install -y socat` failed: ' + output[-500:])
    return found


def mpremote_command():
    found = venv_command('mpremote')
    if not found:
        pytest.skip('mpremote is not installed: add `mpremote` to requirements-dev.txt')
    return found


class Device:
    """The unix port behind a pty, like a board on a serial port; its /lib is ``lib``."""

    def __init__(self, workdir):
        self.lib = workdir / 'lib'
        self.pty = workdir / 'pty'
        self.mpremote = mpremote_command()
        socat = ensure_socat()
        env = micropython_env('%s:.frozen' % self.lib)
        # -d -d logs "starting data transfer loop" once both ends are open.
        self.proc = subprocess.Popen(
            [socat, '-d', '-d', 'PTY,link=%s,rawer' % self.pty,
             'EXEC:%s,pty,stderr,onlcr=0' % micropython_command()],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=str(workdir),
            start_new_session=True)
        log = []
        while True:
            line = read_line(self.proc.stderr, TIMEOUT)
            log.append(line)
            if not line or 'starting data transfer loop' in line:
                break
        if not line or self.proc.poll() is not None:
            self.stop()
            pytest.fail('socat did not start:\n' + ''.join(log))
        self.drain = threading.Thread(target=self.proc.stderr.read, daemon=True)
        self.drain.start()

    def run(self, *args):
        """``mpremote connect PTY resume ARGS``: its exit code and output."""
        # resume: a soft reset would end the unix port's process.
        command = [self.mpremote, 'connect', str(self.pty), 'resume'] + list(args)
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=TIMEOUT)
        return result.returncode, result.stdout

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # socat and the micropython it started
        self.proc.wait(10)


@pytest.fixture
def device(tmp_path):
    if micropython_version() < RAW_REPL_SINCE:
        pytest.skip('mpremote needs a raw REPL, which the MicroPython unix port has from 1.27 on '
                    '(this one is %d.%d.%d; boards have one on every version)' % micropython_version())
    dev = Device(tmp_path)
    yield dev
    dev.stop()


@pytest.mark.parametrize('name', [
    'weblet',
    pytest.param('weblet-websockets', marks=pytest.mark.skipif(
        'weblet-websockets' not in BY_NAME,
        reason='weblet-websockets does not exist yet (plugins/websockets/package.json is missing)')),
])
def test_mpremote_installs_on_the_device_and_it_imports(device, index, name):
    code, output = device.run('mip', 'install', '--target', str(device.lib), '--index', index, name)
    assert code == 0, output
    assert_done(output)
    assert files_in(device.lib) == expected_files([name], True)
    modules = modules_of([name])
    script = 'import %s\nprint("IMPORTED", %s)' % (', '.join(modules), ', '.join(
        '%s.__file__' % module for module in modules))
    code, output = device.run('exec', script)
    assert code == 0, output
    printed = [line.split()[1:] for line in output.splitlines() if line.startswith('IMPORTED')]
    assert len(printed) == 1 and len(printed[0]) == len(modules), output
    for path in printed[0]:
        assert path.startswith(str(device.lib) + '/') and path.endswith('.mpy'), output


def test_mpremote_reports_an_unknown_package(device, index):
    code, output = device.run('mip', 'install', '--target', str(device.lib), '--index', index, 'weblet-nope')
    assert code != 0, output
    assert_failed(output, 'Package not found')
    assert not device.lib.exists()
