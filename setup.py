"""Build the Cython extensions; all metadata lives in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension("fastmock._chunks", ["fastmock/_chunks.pyx"], extra_compile_args=["-Os"]),
    Extension("fastmock._pacer", ["fastmock/_pacer.pyx"], extra_compile_args=["-Os"]),
    Extension("fastmock._counters", ["fastmock/_counters.pyx"], extra_compile_args=["-Os"]),
    Extension("fastmock._connection", ["fastmock/_connection.pyx"], extra_compile_args=["-Os"]),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False},
        # Always regenerate the C files: a stale one must never shadow the .pyx.
        force=True,
    ),
)
