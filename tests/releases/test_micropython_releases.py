"""weblet on the MicroPython releases boards run (1.22, 1.24, 1.26), beside the
PyPI port (1.29 preview) that the rest of the suite runs.

tools/micropython_build.py builds each release from ``../shared/micropython/older``
(64-bit unix port, cached in ``build/micropython/<release>/``; about 40 s each the
first time), and a pytest run of its own runs tests on it through
``WEBLET_MICROPYTHON``: the tests marked ``releases`` (the core's server tests,
one black-box test per plugin, TLS, WebSockets, unfinished JSON, the unit tests;
about 11 s a release), or with ``WEBLET_RELEASE_TESTS=all`` the whole MicroPython
half, ``-m micropython`` (``make test-micropython-releases``). Without the source
trees, gcc or make, a release skips, saying what is missing.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

import micropython_build  # tools/, put on sys.path by pyproject.toml's pytest pythonpath
from conftest import ROOT

RELEASES = ('v1.22.2', 'v1.24.1', 'v1.26.1')
SELECTION_ENV = 'WEBLET_RELEASE_TESTS'
# What each choice runs: a -m expression, and a bound on its pytest run in seconds.
SELECTIONS = {'releases': ('micropython and releases', 600), 'all': ('micropython', 1800)}


def read_report(path):
    """``(counts, problems)`` from a JUnit XML report: counts by outcome, and one
    ``node id: message`` line per failure or error."""
    suite = ElementTree.parse(str(path)).getroot().find('testsuite')
    counts = {key: int(suite.get(key, 0)) for key in ('tests', 'failures', 'errors', 'skipped')}
    counts['passed'] = counts.pop('tests') - counts['failures'] - counts['errors'] - counts['skipped']
    problems = []
    for case in suite.iter('testcase'):
        for problem in list(case.findall('failure')) + list(case.findall('error')):
            message = (problem.get('message') or '').strip().splitlines() or ['']
            problems.append('%s::%s: %s' % (case.get('classname'), case.get('name'), message[0][:300]))
    return counts, problems


@pytest.mark.parametrize('release', RELEASES)
def test_release(release, tmp_path, record_property):
    choice = os.environ.get(SELECTION_ENV, 'releases')
    if choice not in SELECTIONS:
        pytest.fail('%s=%r: must be one of %s' % (SELECTION_ENV, choice, ', '.join(SELECTIONS)))
    ok, reason = micropython_build.available(release)
    if not ok:
        pytest.skip('MicroPython %s cannot be built here: %s' % (release, reason))
    binary = micropython_build.build(release)
    expression, timeout = SELECTIONS[choice]
    report = tmp_path / 'report.xml'
    command = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-m', expression,
               '--basetemp', str(tmp_path / 'run'), '--junitxml', str(report),
               os.path.join(ROOT, 'tests')]
    env = dict(os.environ, **{micropython_build.BINARY_ENV: str(binary)})
    result = subprocess.run(command, cwd=ROOT, env=env, timeout=timeout)
    assert report.exists(), 'pytest on %s ended (status %d) without a report' % (release, result.returncode)
    counts, problems = read_report(report)
    summary = '%s (-m "%s"): %s' % (release, expression, ', '.join(
        '%d %s' % (counts[key], key) for key in ('passed', 'skipped', 'failures', 'errors')))
    record_property('micropython release', summary)
    assert not problems and result.returncode == 0, '\n'.join([summary] + problems)
