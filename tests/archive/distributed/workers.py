"""`landrec archive worker` run as a subprocess, the way an operator starts one: in a session
of its own (SIGKILL of its process group kills the Celery pool too), its log in a file,
waited for until Celery says it is ready. Shared by the tests and the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT_S = 120.0  # the model loads in every pool process first


class Worker:
    """One `landrec archive worker` process (and its pool)."""

    def __init__(
        self,
        db_url: str,
        broker_url: str,
        log: Path,
        *options: str,
        name: str = "w1",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log, self.name = log, name
        command = [
            sys.executable, "-m", "landrec.cli.main", "archive", "worker", "--db", db_url,
            "--broker", broker_url, "--name", f"{name}@%h", *options,
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> Worker:
        """Return once Celery logs that the worker is ready; raise with its log if it exits
        or never gets there."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker {self.name} exited ({self.process.returncode}):\n{self.text()}"
                )
            if " ready." in self.text():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready in {timeout_s} s:\n{self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the worker and its pool at once: a machine lost mid-task."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (Celery's warm shutdown: running tasks end first), SIGKILL if it hangs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        else:
            self.process.wait()
