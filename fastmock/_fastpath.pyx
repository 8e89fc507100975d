# cython: language_level=3
"""The provider APIs' compiled request path: common requests answered without Python.

A load tool sends the same few kinds of request over and over: a chat completion
with a user message, a Responses or Anthropic call, an embedding. Parsed with
httptools, read with ``json`` and answered by the Python API modules, each costs
several times a seed request. Here the whole request is read in C: the HTTP head
(when the request came in one read), the JSON body (only the fields an answer
needs, prompt tokens counted on the way), and the answer is written from constant
pieces with the id, time, model and usage spliced in; embeddings are generated
and formatted in C too. Anything unusual is declined and goes the Python way, so
error answers stay what they were. Loaded by the first provider request.

Each part has its own source under fastmock/fastpath/, included here:

- ``fastpath/scan.pyx``: a validating JSON scanner.
- ``fastpath/fields.pyx``: each API's body fields (what fastmock.providers.request reads).
- ``fastpath/answers.pyx``: the documents and stream pieces of every API; ids.
- ``fastpath/vectors.h``: embedding vectors (CPython's Mersenne Twister) and their text.
- ``fastpath/requests.pyx``: the request of one read, and FastPath, the entry points.
"""
include "fastpath/scan.pyx"
include "fastpath/fields.pyx"
include "fastpath/answers.pyx"
include "fastpath/requests.pyx"
