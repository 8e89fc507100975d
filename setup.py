"""Build the Cython extensions; all metadata lives in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

# -Os: the extensions' pages are resident for the life of the process, in a 20 MB container.
# No unwind tables: C code that raises no C++ exception never reads them (gdb uses the
# .debug_frame that -g still writes); ~36 KB less resident memory (idle server, 5 rounds).
COMPILE_ARGS = ["-Os", "-fno-asynchronous-unwind-tables"]

extensions = [
    Extension("fastmock._chunks", ["fastmock/_chunks.pyx"], extra_compile_args=COMPILE_ARGS),
    # one extension built from fastmock/engine/*.pyx (included by _engine.pyx)
    Extension("fastmock._engine", ["fastmock/_engine.pyx"], extra_compile_args=COMPILE_ARGS),
    # the literal needles of fixture matching and the search of a text for them (loaded
    # with the first fixture). -O2: a 600-character text searched over 1,000 fixtures'
    # needles costs 6.0 us at -Os, 4.9 us at -O2 (2 rounds, taskset -c 1).
    Extension("fastmock._needles", ["fastmock/_needles.pyx"], extra_compile_args=COMPILE_ARGS + ["-O2"]),
    # the provider APIs' compiled request path (fastmock/fastpath/*), loaded by the first
    # provider request. -O2: it reads and writes every byte of those requests and answers,
    # and at -Os a chat completion costs ~10% more server CPU (3 A/B rounds) for 37 KB
    # less text (~35 KB of VmRSS once loaded; an idle server has none).
    # No fused multiply-add: embedding vectors must round as Python's float arithmetic does.
    Extension("fastmock._fastpath", ["fastmock/_fastpath.pyx"], include_dirs=["fastmock/fastpath"],
              extra_compile_args=COMPILE_ARGS + ["-O2", "-ffp-contract=off"]),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3, "boundscheck": False, "wraparound": False,
            # Plain method and function objects instead of Cython's introspectable ones, and
            # no pickling support for the cdef classes (nothing here is ever pickled):
            # ~180 KB less resident memory at start (measured on an idle server).
            "binding": False, "auto_pickle": False,
        },
        # Always regenerate the C files: a stale one must never shadow the .pyx.
        force=True,
    ),
)
