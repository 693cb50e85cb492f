"""Ingest by server-side path stays inside the folders it may read.

A path is resolved fully (every symlink followed, `..` collapsed) and must then lie inside one of the
roots, themselves resolved: `../../etc/passwd` in a manifest and a symlink in a folder pointing at
/etc/shadow are both refused. MEDIASEARCH_INGEST_ROOTS (colon- or comma-separated) names the roots;
unset, the command line may read under the folders and manifests it is given and the current
directory, and the API reads no server-side paths at all.
"""

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer.errors import InvalidInput, OutsideRoots

ROOTS_HINT = "ingest only files under {roots}, or add the folder to MEDIASEARCH_INGEST_ROOTS (colon-separated)"


def parse_roots(spec: str | None) -> list[Path]:
    """The configured roots, resolved; [] when unset. A root that does not exist is an error."""
    roots = []
    for part in re.split(r"[:,]", spec or ""):
        part = part.strip()
        if not part:
            continue
        root = Path(part).expanduser()
        if not root.is_dir():
            raise InvalidInput(f"ingest root {part} is not a folder", "fix MEDIASEARCH_INGEST_ROOTS")
        roots.append(root.resolve())
    return roots


def cli_roots(configured: str | None, given: Iterable[Path]) -> list[Path]:
    """The roots of a command-line ingest: the configured ones, else the given folders (a file's folder,
    a manifest's folder) and the current directory."""
    if configured:
        return parse_roots(configured)
    roots = [Path.cwd().resolve()]
    for path in given:
        folder = path if path.is_dir() else path.parent
        roots.append(Path(os.path.abspath(folder)).resolve())
    return list(dict.fromkeys(roots))


def inside_roots(path: Path, roots: Sequence[Path], what: str = "file") -> Path:
    """The path, resolved, when it lies inside a root; else OutsideRoots naming the path and the setting."""
    try:
        resolved = Path(path).resolve(strict=True)
    except FileNotFoundError:
        raise InvalidInput(f"{what} not found: {path}", "check the path") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission problem
        raise InvalidInput(f"cannot read {what} {path}: {exc}", "check the path") from None
    if not roots:
        raise OutsideRoots(f"reading server-side paths is disabled ({path})",
                           "set MEDIASEARCH_INGEST_ROOTS to the folders ingest may read")
    if not any(resolved.is_relative_to(root) for root in roots):
        shown = ", ".join(str(r) for r in roots)
        target = f" (it leads to {resolved})" if resolved != Path(os.path.abspath(path)) else ""
        raise OutsideRoots(f"{what} {path} is outside the ingest roots{target}", ROOTS_HINT.format(roots=shown))
    return resolved


__all__ = ["cli_roots", "inside_roots", "parse_roots"]
