"""A private single-node Slurm cluster for tests: munged, slurmctld and slurmd of Debian's ``slurm-wlm`` and
``munge``, started as the current user with every file (config, MUNGE key and socket, state, spool, logs) in a
temp folder and free ports, so that each pytest-xdist worker can run its own.

No cgroups (``proctrack/linuxproc``, ``task/none``) and no accounting (``squeue`` shows jobs for
``MinJobAge`` seconds after they end; strokeseg's status reads it, and its own records after that). Where the
packages are missing or the daemons do not come up, the tests that use the cluster skip with the reason
(``make install`` installs the packages where apt is available).

Also: test steps cheap enough to run on it (they must be importable by the jobs: the ``slurm`` fixture puts
this folder on the jobs' ``PYTHONPATH``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strokeseg.experiments.steps import RunContext

#: The daemons and client commands the cluster needs.
REQUIRED = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel", "srun")
NODE = "strokeseg-node"
PARTITION = "debug"
#: How long the daemons may take to come up (seconds).
START_TIMEOUT = 60
#: Seconds of silence after which slurmctld marks a node down (small, for the node-down test).
SLURMD_TIMEOUT = 10
TESTS_FOLDER = Path(__file__).parent


#: srun's listening ports: a block below the kernel's ephemeral range (32768-60999 on Linux), where no outgoing
#: connection of the tests (every sbatch/squeue/sacct call opens one) can take them; a block inside that range
#: once ran out ("sock_bind_listen_range: all ports in range exhausted").
SRUN_PORTS = 200
SRUN_PORT_FLOOR, SRUN_PORT_CEILING = 20000, 32768


def _free_port_block(size: int = SRUN_PORTS) -> int:
    """First port of ``size`` consecutive free ports between the floor and the ephemeral range, starting at a
    block chosen by the process id (pytest-xdist workers start their clusters at the same time)."""
    blocks = (SRUN_PORT_CEILING - SRUN_PORT_FLOOR) // size
    for offset in range(blocks):
        start = SRUN_PORT_FLOOR + ((os.getpid() + offset) % blocks) * size
        if all(_bindable(port) for port in range(start, start + size)):
            return start
    raise RuntimeError(f"no {size} free consecutive ports between {SRUN_PORT_FLOOR} and {SRUN_PORT_CEILING}")


def _bindable(port: int) -> bool:
    with socket.socket() as handle:
        try:
            handle.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket()
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


@dataclass
class SlurmCluster:
    """A running single-node cluster; ``env`` points Slurm's commands at it."""

    folder: Path
    node: str = NODE
    partition: str = PARTITION

    @property
    def conf(self) -> Path:
        return self.folder / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *arguments: str, check: bool = True) -> str:
        """Run a Slurm client command against this cluster; its stdout."""
        result = subprocess.run(list(arguments), capture_output=True, text=True, env={**os.environ, **self.env},
                                timeout=60, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(arguments)} failed: {result.stderr.strip()}")
        return result.stdout

    def node_state(self) -> str:
        return self.command("sinfo", "--noheader", "--Node", "--format=%T", check=False).strip()

    def wait_for_node(self, states: tuple[str, ...], timeout: float = START_TIMEOUT) -> str:
        """Wait until the node is in one of ``states`` (``idle``, ``down*``, ...); returns the state."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.node_state()
            if state in states:
                return state
            time.sleep(0.5)
        raise TimeoutError(f"node {self.node} is {state or 'unknown'}, not {' or '.join(states)}, after "
                           f"{timeout:.0f} s; slurmctld log:\n{self.log_tail('slurmctld')}")

    def log_tail(self, daemon: str, lines: int = 20) -> str:
        path = self.folder / f"{daemon}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    def pid(self, daemon: str) -> int | None:
        try:
            return int((self.folder / f"{daemon}.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop_slurmd(self) -> None:
        """Stop the node's slurmd (as when a node dies)."""
        pid = self.pid("slurmd")
        if pid is not None:
            _stop(pid)
            (self.folder / "slurmd.pid").unlink(missing_ok=True)

    def start_slurmd(self) -> None:
        subprocess.run(["slurmd", "-N", self.node], env={**os.environ, **self.env}, check=True, timeout=60,
                       capture_output=True)

    def stop(self) -> None:
        """Stop every daemon this cluster started (by its pid file), jobs still running included."""
        for daemon in ("slurmd", "slurmctld", "munged"):
            pid = self.pid(daemon)
            if pid is not None:
                _stop(pid)


def _stop(pid: int, timeout: float = 15) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _write_conf(folder: Path, controller: str, ports: list[int]) -> None:
    cpus = os.cpu_count() or 1
    lines = {
        "ClusterName": "strokeseg-test", "SlurmctldHost": f"{controller}(127.0.0.1)",
        "SlurmUser": _user(), "SlurmdUser": _user(),
        "SlurmctldPort": ports[0], "SlurmdPort": ports[1], "SrunPortRange": f"{ports[2]}-{ports[2] + SRUN_PORTS - 1}",
        "AuthType": "auth/munge", "CredType": "cred/munge", "AuthInfo": f"socket={folder / 'munge.sock'}",
        "StateSaveLocation": folder / "state", "SlurmdSpoolDir": folder / "spool",
        "SlurmctldPidFile": folder / "slurmctld.pid", "SlurmdPidFile": folder / "slurmd.pid",
        "SlurmctldLogFile": folder / "slurmctld.log", "SlurmdLogFile": folder / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc", "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres", "SelectTypeParameters": "CR_CPU",
        "JobAcctGatherType": "jobacct_gather/none", "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/none", "MpiDefault": "none", "ReturnToService": 2,
        "SlurmdTimeout": SLURMD_TIMEOUT, "SchedulerParameters": "sched_interval=2", "MinJobAge": 600,
        "KillWait": 5,
    }
    text = "\n".join(f"{key}={value}" for key, value in lines.items())
    text += (f"\nNodeName={NODE} NodeHostname={controller} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n"
             f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n")
    (folder / "slurm.conf").write_text(text)


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def start_cluster(folder: Path) -> SlurmCluster:
    """Start munged, slurmctld and slurmd in ``folder`` and wait until the node is idle.

    Raises:
        RuntimeError: a package is missing or a daemon does not come up (the message says which and why).
    """
    missing = [tool for tool in REQUIRED if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"Slurm/MUNGE not installed (missing {', '.join(missing)}); `make install` installs "
                           "slurm-wlm and munge where apt is available")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # munged refuses a socket folder others can write
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    cluster = SlurmCluster(folder)
    _write_conf(folder, socket.gethostname().split(".")[0], [*_free_ports(2), _free_port_block()])
    env = {**os.environ, **cluster.env}
    commands = [
        ["munged", "--force", f"--socket={folder / 'munge.sock'}", f"--key-file={key}",
         f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
         f"--seed-file={folder / 'munged.seed'}"],
        ["slurmctld", "-i"],
        ["slurmd", "-N", NODE],
    ]
    try:
        for command in commands:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"{command[0]} did not start: {result.stderr.strip() or result.stdout.strip()}")
        cluster.wait_for_node(("idle",))
    except (RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired) as error:
        cluster.stop()
        raise RuntimeError(f"the test Slurm cluster did not come up: {error}") from None
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """One cluster per pytest(-xdist) worker for the whole session; skips (with the reason) where it cannot run."""
    # a short path: munged's socket path must fit in a Unix socket address (108 bytes)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"strokeseg-slurm-{os.getpid()}"
    try:
        cluster = start_cluster(folder)
    except RuntimeError as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(str(error))
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> SlurmCluster:
    """The session's cluster, with Slurm's commands pointed at it (and this folder importable by its jobs)."""
    for variable, value in slurm_cluster.env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, (str(TESTS_FOLDER), os.environ.get("PYTHONPATH")))))
    if slurm_cluster.node_state() != "idle":  # a test before left the node down: bring it back
        slurm_cluster.start_slurmd()
        slurm_cluster.wait_for_node(("idle", "mixed", "allocated"))
    return slurm_cluster


@dataclass(frozen=True)
class MarkerStep:
    """Writes ``output`` after ``seconds``; ``fail``: raises instead. With ``checkpoint``, it writes that file
    first and, when it finds it on start (a rerun after an interruption), resumes: no wait, and ``output``
    holds ``resumed`` (``fresh`` otherwise)."""

    output: Path
    seconds: float = 0.0
    fail: bool = False
    checkpoint: Path | None = None

    def run(self, context: RunContext) -> None:
        resumed = self.checkpoint is not None and self.checkpoint.exists()
        if self.checkpoint is not None and not resumed:
            self.checkpoint.write_text("latest")
        if not resumed:
            time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError(f"{self.output.name} fails on purpose")
        self.output.write_text("resumed" if resumed else "fresh")

    def outputs(self, context: RunContext) -> tuple[Path, ...]:
        return (self.output,)
