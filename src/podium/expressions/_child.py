"""The sandbox's child process: compiles and runs jq programs sent by its parent.

Run as a script (``python -I _child.py MEMORY MAX_RESULT PARENT_PID``), never
imported by the child itself as part of ``podium``: it must start fast and load
nothing but ``jq``. The parent imports this module only for the framing helpers
and tags below.

It limits its own address space (``RLIMIT_AS``), dies with its parent
(``PR_SET_PDEATHSIG``), ignores SIGINT, SIGTERM and SIGHUP (the parent decides),
and runs one request at a time:

- ``E`` + program length (4 bytes) + program + input JSON: run the program on the
  input; the program itself ends in ``tojson``, so the answer is ``R`` + the
  results as JSON text, ``X`` + a jq error message, ``L`` when the text is over
  MAX_RESULT bytes, or ``M`` when Python ran out of memory (the child then exits);
- ``C`` + program: compile only; ``O`` or ``X`` + the error message.

libjq aborts the process when malloc fails ("jq: error: cannot allocate
memory" on stderr): the parent reads that from the child's stderr.
"""

from __future__ import annotations

import struct
import sys
from collections import OrderedDict
from typing import IO, Any

EVALUATE, COMPILE = b"E", b"C"
RESULT, ERROR, TOO_LARGE, NO_MEMORY, COMPILED = b"R", b"X", b"L", b"M", b"O"
# The exit status after a Python MemoryError (libjq aborts with SIGABRT instead).
MEMORY_EXIT = 86
_HEADER = struct.Struct(">cI")
_LENGTH = struct.Struct(">I")
_CACHED_PROGRAMS = 256


def frame(tag: bytes, body: bytes) -> bytes:
    return _HEADER.pack(tag, len(body)) + body


def evaluation(program: str, payload: bytes) -> bytes:
    encoded = program.encode()
    return frame(EVALUATE, _LENGTH.pack(len(encoded)) + encoded + payload)


def header(data: bytes) -> tuple[bytes, int]:
    tag, length = _HEADER.unpack(data)
    return tag, length


HEADER_SIZE = _HEADER.size


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (Linux); a parent that is already
    gone (we were orphaned before the call) means exit now."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: EOF on stdin still ends us
        pass
    import os

    if os.getppid() != parent:
        sys.exit(0)


def _read(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def _serve(memory: int, max_result: int) -> None:
    import resource

    import jq

    # After the imports: the limit is for the programs, not the interpreter.
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    programs: OrderedDict[str, Any] = OrderedDict()

    def compiled(text: str) -> Any:
        program = programs.get(text)
        if program is None:
            program = jq.compile(text)
            programs[text] = program
            if len(programs) > _CACHED_PROGRAMS:
                programs.popitem(last=False)
        else:
            programs.move_to_end(text)
        return program

    def reply(tag: bytes, body: bytes = b"") -> None:
        replies.write(frame(tag, body))
        replies.flush()

    while True:
        head = _read(requests, _HEADER.size)
        if head is None:
            return  # the parent closed our stdin: done
        tag, length = _HEADER.unpack(head)
        body = _read(requests, length)
        if body is None:
            return
        try:
            if tag == COMPILE:
                compiled(body.decode())
                reply(COMPILED)
                continue
            (size,) = _LENGTH.unpack_from(body)
            program = compiled(body[4:4 + size].decode())
            outputs = program.input_text(body[4 + size:].decode()).all()
            text = outputs[0] if outputs else "[]"
            encoded = text.encode()
            if len(encoded) > max_result:
                reply(TOO_LARGE, str(len(encoded)).encode())
            else:
                reply(RESULT, encoded)
        except ValueError as exc:  # a jq compile or runtime error
            reply(ERROR, str(exc).encode(errors="replace"))
        except MemoryError:
            try:
                reply(NO_MEMORY)
            finally:
                sys.exit(MEMORY_EXIT)


def main(argv: list[str]) -> None:
    import signal

    memory, max_result, parent = (int(value) for value in argv[1:4])
    # The parent decides when a child ends: a service manager's SIGTERM to the
    # whole group must not fault the evaluation under way while the parent
    # shuts down gracefully (it releases its instances; then we die with it).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _die_with_parent(parent)
    _serve(memory, max_result)


if __name__ == "__main__":
    main(sys.argv)
