"""A stand-in for the ``pytest`` module on MicroPython, for the portable unit tests.

It holds only what those tests use, nothing more:

- ``mark.parametrize(names, values)``: ``names`` is a comma-separated string,
  ``values`` a list of values (one name) or of tuples (several names).
  Decorators may be stacked; each case of the product is one run.
- ``raises(exc_type)``: a context manager whose ``value`` is the exception
  raised in its block; ``AssertionError`` if nothing was raised, and any
  other exception passes through.

MicroPython functions take no attributes, so the cases are kept here, by
function, and :func:`cases` gives them to ``run.py``. On CPython the tests run
under the real pytest; this module is on MicroPython's path only.
"""

_CASES = {}  # test function -> [(names, values)], the innermost decorator first


class _Mark:

    def parametrize(self, names, values):
        names = [name.strip() for name in names.split(',')]

        def decorate(fn):
            _CASES.setdefault(fn, []).append((names, list(values)))
            return fn
        return decorate


mark = _Mark()


def cases(fn):
    """The keyword arguments of each run of ``fn``, a list of dicts (``[{}]`` if not
    parametrized)."""
    runs = [{}]
    for names, values in _CASES.get(fn, ()):
        product = []
        for kwargs in runs:
            for value in values:
                if len(names) == 1:
                    value = (value,)
                if len(value) != len(names):
                    raise ValueError('parametrize(%r): %r has %d values'
                                     % (', '.join(names), value, len(value)))
                run = dict(kwargs)
                for name, item in zip(names, value):
                    run[name] = item
                product.append(run)
        runs = product
    return runs


class raises:
    """``with raises(E) as info:`` the block must raise ``E``; ``info.value`` is it."""

    value = None

    def __init__(self, exc_type):
        self.exc_type = exc_type

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            raise AssertionError('DID NOT RAISE %r' % (self.exc_type,))
        if not isinstance(value, self.exc_type):
            return False
        self.value = value
        return True
