"""Helpers shared by the tests (and by the benchmarks and examples that reuse them).

Importable as ``support.<module>`` because pytest puts ``tests/`` on ``sys.path`` (its rootdir
conftest); scripts outside tests/ add ``tests/`` themselves. Modules that define fixtures are
pytest plugins: a test module names them in ``pytest_plugins = ["support.index"]``.
"""
