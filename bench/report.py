"""Where every benchmark writes: a section appended to docs/benchmarks.md, with its command and machine."""

import os
import platform
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine(extra: str = "") -> str:
    text = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return f"{text}; {extra}" if extra else text


def append(title: str, command: str, body: str, machine_text: str | None = None) -> None:
    with BENCHMARKS.open("a", encoding="utf-8") as fh:
        fh.write(f"\n## {title} ({time.strftime('%Y-%m-%d')})\n\n`{command}` on {machine_text or machine()}\n\n{body.rstrip()}\n")
