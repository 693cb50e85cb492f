"""docker/opensearch-local.sh with options (a cluster, the security plugin), for the tests that need more
than conftest's single plain node. Like that node, a run that cannot start fails the test; never a skip."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import _OPENSEARCH_TIMINGS, OPENSEARCH_SCRIPT


class ScriptRun:
    """One run folder of docker/opensearch-local.sh, started with `options` (e.g. --nodes 3, --security).

    `port_variable` names an environment variable that, when set, gives the first HTTP port (the
    transport ports of a cluster start 10 above it); otherwise the script picks free ports."""

    def __init__(self, run_dir: Path, options: list[str], port_variable: str):
        self.run_dir = run_dir
        self.options = options
        self.env = {**os.environ, "OPENSEARCH_RUN_DIR": str(run_dir)}
        for name in ("OPENSEARCH_PORT", "OPENSEARCH_TRANSPORT_PORT"):
            self.env.pop(name, None)
        if os.environ.get(port_variable):
            first = int(os.environ[port_variable])
            self.env.update(OPENSEARCH_PORT=str(first), OPENSEARCH_TRANSPORT_PORT=str(first + 10))
        self.url = ""
        self.seconds: dict[str, float] = {}

    def script(self, *command: str, check: bool = True) -> str:
        started = time.perf_counter()
        done = subprocess.run(["bash", str(OPENSEARCH_SCRIPT), *self.options, *command], env=self.env,
                              capture_output=True, text=True, timeout=900, check=False)
        seconds = time.perf_counter() - started
        label = " ".join([*self.options, *command])
        self.seconds[" ".join(command)] = seconds
        _OPENSEARCH_TIMINGS[f"{label} #{sum(k.startswith(label) for k in _OPENSEARCH_TIMINGS) + 1}"] = seconds
        if check and done.returncode != 0:
            pytest.fail(f"docker/opensearch-local.sh {label} failed (exit {done.returncode}):\n"
                        f"{done.stdout[-2000:]}\n{done.stderr[-6000:]}", pytrace=False)
        return done.stdout

    def start(self) -> str:
        self.url = self.script("start").strip().splitlines()[-1]
        return self.url

    def clean(self) -> None:
        self.script("clean", check=False)
