"""The optional C extension of verify (vendzz_migrate/_speed.c); everything else about
the package is in pyproject.toml. Without a C compiler the install still succeeds and verify
takes the same paths in Python, slower."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("vendzz_migrate._speed", sources=["vendzz_migrate/_speed.c"], optional=True)
    ]
)
