"""Run portable unit test modules on MicroPython: ``micropython run.py MODULE...``.

Each module is imported (MICROPYPATH must reach it, the staged weblet and
this folder, whose ``pytest.py`` stands in for pytest). Its ``test_*``
functions run in name order (MicroPython's dicts keep no definition order),
once per parametrize case, each printing ``PASS module::name[i]`` or
``FAIL module::name[i]: <exception>`` and its traceback. The last line is
``SUMMARY passed=N failed=M``; the exit status is 1 if any failed.
"""
import gc
import sys

import pytest


def run_module(name):
    """Run the tests of module ``name``; ``(passed, failed)``."""
    try:
        module = __import__(name)
    except Exception as exc:  # the module itself is broken: one failure
        print('FAIL %s: %r' % (name, exc))
        sys.print_exception(exc)
        return 0, 1
    passed = failed = 0
    for test in sorted(attr for attr in dir(module) if attr.startswith('test_')):
        fn = getattr(module, test)
        if not callable(fn):
            continue
        for index, kwargs in enumerate(pytest.cases(fn)):
            label = '%s::%s[%d]' % (name, test, index)
            try:
                fn(**kwargs)
            except Exception as exc:
                failed += 1
                print('FAIL %s: %r' % (label, exc))
                sys.print_exception(exc)
            else:
                passed += 1
                print('PASS ' + label)
            gc.collect()
    return passed, failed


def main(names):
    passed = failed = 0
    for name in names:
        done, broken = run_module(name)
        passed += done
        failed += broken
    print('SUMMARY passed=%d failed=%d' % (passed, failed))
    sys.exit(1 if failed or not names else 0)


main(sys.argv[1:])
