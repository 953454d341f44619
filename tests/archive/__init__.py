"""The archive service's tests (a package, so its conftest does not shadow tests/conftest.py)."""
