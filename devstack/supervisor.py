"""Running the whole system on one machine: child processes, restarted if they die, stopped together."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

RESTART_DELAY_S = 2.0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # on top of the supervisor's
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    last_start: float = field(default=0.0)


class Supervisor:
    """Starts named child processes, restarts the ones that exit, and stops them all on request."""

    def __init__(self, env: dict[str, str], say: Callable[[str], None], log_dir: Path | None = None) -> None:
        self.env = env
        self.say = say
        self.log_dir = log_dir  # None: children write to our terminal
        self.children: list[Child] = []
        self._lock = threading.Lock()

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name=name, argv=argv, env=env or {})
        self._spawn(child)
        self.children.append(child)
        return child

    def _spawn(self, child: Child) -> None:
        env = {**self.env, **child.env}
        if self.log_dir is None:
            child.process = subprocess.Popen(child.argv, env=env)
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_dir / f"{child.name}.log", "ab") as log:
                child.process = subprocess.Popen(child.argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        child.last_start = time.monotonic()

    def watch(self, stop: threading.Event) -> None:
        """Restart children that exit, until ``stop`` is set."""
        while not stop.wait(0.5):
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    code = child.process.returncode
                    if time.monotonic() - child.last_start < RESTART_DELAY_S:
                        stop.wait(RESTART_DELAY_S)
                    self.say(f"{child.name} exited with code {code}; restarting it")
                    child.restarts += 1
                    self._spawn(child)

    def stop(self, timeout_s: float = 70.0) -> None:
        """SIGTERM everyone (workers finish in-flight messages), SIGKILL whoever outlives the timeout."""
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{child.name} did not stop in time; killing it")
                child.process.kill()
                child.process.wait()
