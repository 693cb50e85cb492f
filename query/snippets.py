"""Snippets from the text that matched, never a dump of annotation values (issue 17, point 3).

When a hit's words matched in its annotations, the snippet is the one annotation that holds them (a speech
or OCR line, a caption, a label above its floor), named by its friendly name ("Speech: ... <mark>moon</mark>
..."), rather than FTS's window over every annotation value joined together. `plain_text` turns a snippet
into text without markup, for exports.
"""

import html
import re
from collections.abc import Callable, Sequence

from indexer.annotation_fields import field, shown
from indexer.assets import Annotation
from indexer.stores.lexical import MARK_END, MARK_START

LIMIT = 200
_MARKED = re.compile(re.escape(MARK_START) + "(.*?)" + re.escape(MARK_END), re.S)
_TAG = re.compile(r"<[^>]*>")
# Text lines first (what was said or written), then labels.
_ROLE_ORDER = {"text": 0, "label": 1, "fact": 2}


def marked_words(marked: str) -> set[str]:
    """The words a highlight marked, lower-cased."""
    return {w.lower() for m in _MARKED.findall(marked) for w in re.findall(r"[^\W_]+", m)}


def _window(value: str, start: int, end: int, limit: int) -> tuple[str, int]:
    """A piece of `value` of about `limit` characters around [start, end); the offset it starts at."""
    if len(value) <= limit:
        return value, 0
    left = max(0, min(start - limit // 3, len(value) - limit))
    piece = value[left : left + limit]
    return piece, left


def annotation_snippet(marked: str, annotations: Sequence[Annotation], limit: int = LIMIT) -> str | None:
    """HTML: the annotation line holding the matched words, with its friendly name, the words in <mark>;
    None when no shown annotation holds them (the caller then falls back to other text)."""
    wanted = marked_words(marked)
    if not wanted:
        return None
    best: tuple[int, int, Annotation] | None = None
    for i, a in enumerate(annotations):
        role = field(a.name).role
        if not shown(a) or role not in _ROLE_ORDER:
            continue
        tokens = {w.lower() for w in re.findall(r"[^\W_]+", a.value)}
        if tokens & wanted and (best is None or (_ROLE_ORDER[role], i) < best[:2]):
            best = (_ROLE_ORDER[role], i, a)
    if best is None:
        return None
    a = best[2]
    value = " ".join(a.value.split())
    spans = [m.span() for m in re.finditer(r"[^\W_]+", value) if m.group(0).lower() in wanted]
    piece, offset = _window(value, spans[0][0], spans[0][1], limit)
    out, last = [], 0
    for start, end in spans:
        start, end = start - offset, end - offset
        if start < 0 or end > len(piece):
            continue
        out += [html.escape(piece[last:start]), "<mark>", html.escape(piece[start:end]), "</mark>"]
        last = end
    out.append(html.escape(piece[last:]))
    prefix = "…" if offset else ""
    suffix = "…" if offset + len(piece) < len(value) else ""
    return f"{html.escape(field(a.name).label)}: {prefix}{''.join(out)}{suffix}"


def matched_snippet(marked: str, annotations: Callable[[], Sequence[Annotation]]) -> str | None:
    """The snippet of an `annotations` highlight: `annotations` is called only when needed."""
    return annotation_snippet(marked, annotations())


def plain_text(snippet: str | None) -> str:
    """A snippet without markup (for CSV and other exports): tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", snippet or "")).replace(MARK_START, "").replace(MARK_END, "")
