"""Build the Cython frame tables; all metadata lives in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [Extension("fastmock._chunks", ["fastmock/_chunks.pyx"])]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
        # Always regenerate the C file: a stale one must never shadow the .pyx.
        force=True,
    ),
)
