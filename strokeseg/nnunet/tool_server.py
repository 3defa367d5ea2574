"""Stock nnU-Net tools started from a warm interpreter instead of a cold one.

Every stock tool (``nnUNetv2_train``, ``nnUNetv2_predict``, ...) spends its first seconds importing torch,
torch._dynamo, matplotlib/seaborn, scipy and SimpleITK before nnU-Net's own code runs: 5.5 s of one core here, of
the 8.2 s it takes to import ``nnunetv2.run.run_training`` (measured with ``python -X importtime``). A study that
runs ten tools one after another (the demo) pays that ten times. :class:`ToolLauncher` pays it once: it starts a
small server interpreter that imports those third-party modules (:data:`PRELOADED_MODULES`) and then forks one
child per tool. The child is the tool's process: its standard output and error are a pipe the caller reads, its
environment and working directory are the caller's, ``sys.argv`` is the tool's, it imports nnunetv2 (and, through
it, strokeseg's trainers) itself and calls the console script's entry point, exactly as
:func:`strokeseg.nnunet.runner.nnunet_command` does in a new interpreter; its exit status is the tool's.

Why the result is the same as from a cold interpreter:

* the server imports no nnunetv2 module and of strokeseg only this one: nnunetv2's modules read nnU-Net's
  environment variables (folders, worker counts) when they are imported, and each child imports them (and
  strokeseg's trainers) after it has taken the tool's environment;
* the preloaded modules read no ``nnUNet_*`` variable, and every other variable (thread counts, glibc's heap
  settings, ``CUDA_VISIBLE_DEVICES``, ...) must equal the server's: a tool whose environment differs elsewhere
  gets a server of its own (:func:`server_key`);
* torch does not start CUDA or its thread pools when imported, so the fork copies no GPU context and no worker
  threads;
* the child ends like an interpreter does (exit handlers run, buffers are flushed), and an uncaught exception
  prints its traceback and exits 1.

A server serves one tool at a time; a tool asked for while its server is busy, or after the server died (it is
not started again), runs in a new interpreter as before (:meth:`ToolLauncher.start`). The launcher stops its
servers when closed (a server also ends when the process that started it goes away). POSIX only (``fork``, Unix
sockets); elsewhere every tool runs in a new interpreter.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points
from types import TracebackType
from typing import IO, Any

#: Third-party modules the server imports once (torch and its compiler front end, plotting, statistics, image I/O):
#: the part of a stock tool's start that does not depend on nnU-Net's environment variables. A module that is not
#: installed is skipped.
PRELOADED_MODULES: tuple[str, ...] = (
    "numpy", "torch", "torch._dynamo", "matplotlib", "matplotlib.pyplot", "seaborn", "scipy.stats", "scipy.ndimage",
    "pandas", "SimpleITK", "nibabel", "blosc2", "batchgenerators", "acvl_utils", "dynamic_network_architectures",
    "torchio",
)
#: Prefix of the environment variables a tool may change without a server of its own: nnU-Net's, which only
#: nnunetv2's modules read, and the server never imports them.
PER_TOOL_PREFIX = "nnUNet_"
#: Largest request (the tool's arguments and environment as JSON), bytes.
MAX_REQUEST_BYTES = 1 << 20


def server_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The part of a tool's environment its server must share (and runs with): every variable except nnU-Net's."""
    return {name: value for name, value in environment.items() if not name.startswith(PER_TOOL_PREFIX)}


def server_key(environment: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The tools that may share a server have the same key: their :func:`server_environment`."""
    return tuple(sorted(server_environment(environment).items()))


def forking_supported() -> bool:
    """Whether this platform can run tools from a warm server (``fork`` and Unix sequenced-packet sockets)."""
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "SOCK_SEQPACKET") \
        and hasattr(socket, "send_fds")


class StartedTool:
    """A running tool: ``stdout`` (its standard output and error, bytes) and :meth:`wait` (its exit status), as
    ``subprocess.Popen`` gives them."""

    def __init__(self, stdout: IO[bytes], server: _Server | None = None,
                 process: subprocess.Popen[bytes] | None = None) -> None:
        self.stdout = stdout
        self._server = server
        self._process = process

    @classmethod
    def popen(cls, command: Sequence[str], environment: Mapping[str, str]) -> StartedTool:
        """``command`` in a new process with ``environment``, standard output and error into one pipe."""
        process = subprocess.Popen(list(command), env=dict(environment), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        assert process.stdout is not None
        return cls(process.stdout, process=process)

    @property
    def from_server(self) -> bool:
        """Whether a warm server runs this tool (False: a new interpreter)."""
        return self._server is not None

    def wait(self) -> int:
        """The tool's exit status, once it ended (read ``stdout`` to its end first)."""
        if self._process is not None:
            return self._process.wait()
        assert self._server is not None
        return self._server.finish()


class _Server:
    """One warm interpreter (see the module docstring) and the socket it takes requests on."""

    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self.busy = False

    @classmethod
    def start(cls, environment: Mapping[str, str]) -> _Server:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = f"import sys; from strokeseg.nnunet.tool_server import serve; sys.exit(serve({theirs.fileno()}))"
        with theirs:
            process = subprocess.Popen([sys.executable, "-c", code], env=server_environment(environment),
                                       pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cls(process, ours)

    def launch(self, tool: str, arguments: Sequence[str], environment: Mapping[str, str]) -> StartedTool | None:
        """Ask the server to fork ``tool``; None when the server cannot take it."""
        request = json.dumps({"tool": tool, "arguments": list(arguments), "environment": dict(environment),
                              "cwd": os.getcwd()}).encode()
        if len(request) > MAX_REQUEST_BYTES:
            return None
        read_end, write_end = os.pipe()
        try:
            socket.send_fds(self.channel, [request], [write_end])
        except OSError:
            os.close(read_end)
            return None
        finally:
            os.close(write_end)
        self.busy = True
        return StartedTool(os.fdopen(read_end, "rb"), server=self)

    def finish(self) -> int:
        """The exit status the server reports for its running tool (1 when the server died meanwhile)."""
        try:
            reply = self.channel.recv(64)
        except OSError:
            reply = b""
        self.busy = False
        return int(reply) if reply.strip() else 1

    def stop(self) -> None:
        self.channel.close()  # the server reads end-of-file and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ToolLauncher:
    """Starts stock nnU-Net tools from warm servers, one per distinct :func:`server_key`; a context manager that
    stops them on exit. Not thread-safe: one launcher per thread that runs tools."""

    def __init__(self) -> None:
        #: the server of each key; None once it died (its tools then run in new interpreters)
        self._servers: dict[tuple[tuple[str, str], ...], _Server | None] = {}
        self.started_servers = 0

    def start(self, tool: str, arguments: Sequence[str], environment: Mapping[str, str],
              fallback_command: Sequence[str]) -> StartedTool:
        """Run ``tool arguments...`` with ``environment``, standard output and error into one pipe.

        From a warm server where one is available; otherwise ``fallback_command`` in a new process (a server that
        died is replaced, a busy one is not waited for).
        """
        if forking_supported():
            key = server_key(environment)
            if key not in self._servers:
                self._servers[key] = _Server.start(environment)
                self.started_servers += 1
            server = self._servers[key]
            if server is not None and server.process.poll() is not None:
                server.stop()
                server = self._servers[key] = None
            if server is not None and not server.busy:
                started = server.launch(tool, arguments, environment)
                if started is not None:
                    return started
        return StartedTool.popen(fallback_command, environment)

    def server_processes(self) -> list[int]:
        """Process IDs of the servers that are running."""
        return [server.process.pid for server in self._servers.values()
                if server is not None and server.process.poll() is None]

    def close(self) -> None:
        """Stop every server (a tool one of them still runs goes on to its end)."""
        for server in self._servers.values():
            if server is not None:
                server.stop()
        self._servers.clear()

    def __enter__(self) -> ToolLauncher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def serve(channel_fd: int) -> Any:
    """The server's loop (run in its own interpreter by :class:`ToolLauncher`): import :data:`PRELOADED_MODULES`,
    then fork one child per request until the launcher closes the socket.

    Returns:
        in the server, 0 when the launcher went away; in a forked child, the tool's exit status (the caller
        passes it to ``sys.exit``, so that the child ends the way an interpreter does).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the tool (same process group), not the server
    channel = socket.socket(fileno=channel_fd)
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST_BYTES, 1)
        except OSError:
            return 0
        if not message:
            for fd in fds:
                os.close(fd)
            return 0
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            channel.close()
            return _become_tool(request, fds[0])
        os.close(fds[0])
        _, status = os.waitpid(pid, 0)
        try:
            channel.send(str(os.waitstatus_to_exitcode(status)).encode())
        except OSError:
            return 0


def _become_tool(request: Mapping[str, Any], output_fd: int) -> Any:
    """In the forked child: take the tool's output pipe, environment, directory and arguments; run its entry point.

    Returns:
        the entry point's result or ``SystemExit`` code (None: 0), for ``sys.exit``.
    """
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["environment"])
    os.chdir(request["cwd"])
    tool = request["tool"]
    sys.argv = [tool, *request["arguments"]]
    entry = next(iter(entry_points(group="console_scripts", name=tool)))
    try:
        return entry.load()()
    except SystemExit as exit_request:
        return exit_request.code
