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


def table(title: str, heads: list[str], rows: list[list[str]], left: tuple[str, ...] = ()) -> str:
    """Print `rows` as a rich table and return the same rows as a markdown table (columns right-aligned,
    except those named in `left`)."""
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=title)
    for head in heads:
        shown.add_column(head, justify="left" if head in left else "right")
    for row in rows:
        shown.add_row(*row)
    Console(width=max(Console().width, 170)).print(shown)  # wide tables stay readable in logs
    return "\n".join(["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads),
                      *("| " + " | ".join(row) + " |" for row in rows)])
