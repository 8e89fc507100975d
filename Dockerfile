# fastmock container image. How it is built, checked without Docker and sized:
# docs/container.md. `scripts/container-equivalent` repeats every step below on a
# machine without a Docker engine, and tests/container/test_container.py runs that result
# under the same 0.1 CPU / 20 MB cgroup limits docker-compose.yml sets.
#
# Builder and runtime use the SAME base image: wheels compiled against musl in the
# builder load in the musl runtime (glibc "manylinux" wheels would not; PEP 656).
# Pinning the Alpine release keeps both stages on one libc and one Python ABI.
ARG PYTHON_IMAGE=python:3.12-alpine3.22

# ---------------------------------------------------------------------------
# Stage 1: compile fastmock's Cython extension and collect every runtime wheel.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
# build-base: gcc, musl-dev and make for the extension (and for any dependency that
# publishes no musllinux wheel for this Python), binutils' strip to slim the .so files.
# Not pinned: Alpine's repository keeps only the current build of each package, so a
# pinned version breaks the build the day it is updated; the base tag pins the release.
# hadolint ignore=DL3018
RUN apk add --no-cache build-base
WORKDIR /src
# .dockerignore keeps host build outputs (fastmock/*.c, *.so, build/) out of this copy,
# so the extension is always compiled here, from the .pyx, against musl.
COPY . .
# `pip wheel` builds fastmock and downloads/builds uvloop and httptools as musllinux
# wheels, then the script strips debug symbols from their .so files and drops Cython
# sources and test helpers, rewriting each wheel's RECORD (same code CI runs).
RUN python scripts/container-equivalent wheels /wheels

# ---------------------------------------------------------------------------
# Stage 2: install those wheels only, precompile, then remove what never runs.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS assemble
COPY --from=builder /wheels /wheels
COPY --from=builder /src/scripts/container-equivalent /tmp/container-equivalent
# --no-index: nothing but the builder's wheels can be installed. The precompile step
# imports every fastmock module once and writes unchecked-hash .pyc files for exactly
# the modules the server loads (the base image ships no .pyc, and the non-root user
# cannot write them), so every start skips compiling; it would cost seconds at 0.1 CPU.
# --optimize 2 matches the final ENV's PYTHONOPTIMIZE=2 (.opt-2.pyc files).
RUN set -eux; \
    pip install --no-cache-dir --no-index --find-links /wheels /wheels/fastmock-*.whl; \
    python /tmp/container-equivalent precompile --optimize 2 /usr/local; \
    rm -rf /wheels /tmp/container-equivalent /root/.cache
# Removals. Each "# prune:" line says why that line's paths are safe to delete;
# scripts/container-equivalent reads these lines, blocks the same modules in its venv
# (so the CI run proves the server never imports them) and sizes them.
RUN set -eux; \
    rm -rf \
# prune: pip, its console scripts and ensurepip's bundled copy: nothing is installed at run time
        /usr/local/lib/python3.*/site-packages/pip /usr/local/lib/python3.*/site-packages/pip-* /usr/local/bin/pip /usr/local/bin/pip3* /usr/local/lib/python3.*/ensurepip \
# prune: setuptools and wheel (absent from 3.12 images; kept here in case the base changes): build tools
        /usr/local/lib/python3.*/site-packages/setuptools* /usr/local/lib/python3.*/site-packages/pkg_resources /usr/local/lib/python3.*/site-packages/wheel* /usr/local/lib/python3.*/site-packages/_distutils_hack /usr/local/lib/python3.*/site-packages/distutils-precedence.pth \
# prune: venv creates environments, which needs ensurepip: not a server job
        /usr/local/lib/python3.*/venv \
# prune: CPython's own test suite and test-only C modules (the base already drops test/)
        /usr/local/lib/python3.*/test /usr/local/lib/python3.*/lib-dynload/_test* /usr/local/lib/python3.*/lib-dynload/_ctypes_test* /usr/local/lib/python3.*/lib-dynload/_xxtestfuzz* /usr/local/lib/python3.*/lib-dynload/xxlimited* /usr/local/lib/python3.*/lib-dynload/xxsubtype* \
# prune: IDLE editor, Tk GUI toolkit and turtle graphics: no display, and the base has no libtk
        /usr/local/lib/python3.*/idlelib /usr/local/bin/idle3* /usr/local/lib/python3.*/tkinter /usr/local/lib/python3.*/lib-dynload/_tkinter* /usr/local/lib/python3.*/turtle.py /usr/local/lib/python3.*/turtledemo \
# prune: pydoc topic data and the pydoc script: only used by interactive help()
        /usr/local/lib/python3.*/pydoc_data /usr/local/bin/pydoc3* \
# prune: lib2to3 and 2to3: Python 2 source converter
        /usr/local/lib/python3.*/lib2to3 /usr/local/bin/2to3* \
# prune: C headers, python3-config, the static-build config dir and pkg-config files: nothing compiles at run time
        /usr/local/include /usr/local/lib/python3.*/config-3.* /usr/local/bin/python3-config /usr/local/bin/python3.*-config /usr/local/lib/pkgconfig \
# prune: manual pages: no man reader in the image
        /usr/local/share/man \
# prune: sqlite3, curses and readline bindings: no database, no terminal UI, no interactive prompt
        /usr/local/lib/python3.*/sqlite3 /usr/local/lib/python3.*/lib-dynload/_sqlite3* /usr/local/lib/python3.*/curses /usr/local/lib/python3.*/lib-dynload/_curses* /usr/local/lib/python3.*/lib-dynload/readline* \
    ; \
# tzdata and ca-certificates: the server formats UTC timestamps only and makes no
# outbound TLS connection (apk removes them cleanly; they are leaf packages).
    apk del --no-cache --no-network tzdata ca-certificates; \
# the server's user: numeric so Kubernetes' runAsNonRoot can verify it; no home, no login shell
    addgroup -S -g 10001 fastmock; \
    adduser -S -D -H -u 10001 -G fastmock -s /sbin/nologin fastmock; \
    python -c "import fastmock, uvloop, httptools; print('fastmock', fastmock.__version__)"

# ---------------------------------------------------------------------------
# Stage 3: one flat layer. Files deleted in a later layer still sit in the base
# image's layers and are still downloaded; copying the pruned tree onto scratch is
# what makes the removals above shrink the image. (DL3067 warns about copying a
# whole filesystem between stages: here that is the point, the tree is the image.)
# ---------------------------------------------------------------------------
FROM scratch
# hadolint ignore=DL3067
COPY --from=assemble / /
# The base image's ENV does not survive the flattening: declare what Python needs.
# PYTHONUNBUFFERED: the "listening on" line reaches `docker logs` at once.
# PYTHONDONTWRITEBYTECODE: the tree is read-only for this user; do not even try.
# PYTHONOPTIMIZE=2 (python -OO): docstrings and asserts are never loaded, ~0.5 MB less
# resident memory of the 20 MB (measured in docs/container.md); nothing in the server
# reads a docstring or relies on an assert.
# Settings are left to the server's defaults (0.0.0.0:3000); override them with
# FASTMOCK_* variables (or PORT), see docker-compose.yml.
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONOPTIMIZE=2
USER 10001:10001
WORKDIR /
EXPOSE 3000
# The server is PID 1: it installs its own SIGTERM/SIGINT handlers, stops accepting,
# lets streams finish (FASTMOCK_SHUTDOWN_TIMEOUT, default 5 s) and exits 0.
STOPSIGNAL SIGTERM
# busybox wget is already in the image: no extra package, and a few hundred KB of RSS
# inside the 20 MB cgroup (a Python health probe would cost ~10 MB on every run).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "wget -q -T 2 -O /dev/null http://127.0.0.1:${FASTMOCK_PORT:-${PORT:-3000}}/health || exit 1"]
CMD ["fastmock"]
