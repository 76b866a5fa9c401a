"""Benchmarks of django-authy2fa against plain Django and django-otp.

``make bench`` runs :mod:`benchmarks.run`, which writes ``docs/benchmarks.md``.
Nothing here is imported by the package or by the test suite.
"""
