"""The search box's query language.

    cat on a sofa                    free words (ranked; any may match)
    "red motorcycle"                 a phrase that must appear
    -meme  -"stock photo"            words or phrases that must not appear
    type:video  label:dog  owner:ana  licence:cc-by  tag:space  colour:red
    label:dog,cat                    any of several values
    -label:meme                      negation ("a person and a dog, but not a meme")
    created:2024-01..2024-06         ranges: a..b, a.., ..b, >x, >=x, <x, <=x
    duration:>30  width:>=1024  year:2024  faces:yes  model:efficientnet-lite0
    colour:red@top-left  color:blue@top,top-right   the spatial canvas: a colour in a cell of the 3x3 grid
    face@center  text@bottom-left                    where a face or a line of text is (indexer/canvas.py)
    rocket launch THEN astronaut within:30s          temporal: a moment, then another within 30 s
                                                      (query/temporal.py; within: defaults to 60 s)

A mistake raises `QuerySyntaxError`, which names the offending token and its
position. The parser builds structured `Filters`; query text never reaches a
store as raw syntax.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from indexer.canvas import COLOUR_ALIASES, COLOURS, canvas_value, object_name
from indexer.errors import InvalidInput
from indexer.filters import Filters, RangeFilter, TermFilter, end_of_period, parse_instant, utc_iso

FIELD_ALIASES = {
    "type": "type", "media": "type", "is": "type",
    "label": "label", "labels": "label", "object": "label",
    "owner": "owner", "user": "owner", "by": "owner",
    "licence": "licence", "license": "licence",
    "tag": "tag", "tags": "tag",
    "colour": "colour", "color": "colour",
    "annotation": "annotation", "has": "annotation",
    "model": "model",
    "faces": "faces", "face": "faces",
    "year": "year",
    "visibility": "visibility",
    "id": "id",
    "created": "created", "date": "created",
    "duration": "duration", "width": "width", "height": "height",
}
RANGE_FIELDS = {"created", "duration", "width", "height"}
TYPE_ALIASES = {"image": "image", "images": "image", "photo": "image", "photos": "image", "picture": "image",
                "video": "video", "videos": "video", "clip": "video", "text": "text", "texts": "text",
                "audio": "audio", "sound": "audio"}
YES_NO = {"yes": "yes", "true": "yes", "1": "yes", "no": "no", "false": "no", "0": "no"}

_TOKEN = re.compile(
    r"""(?P<neg>-)?(?:(?P<field>[A-Za-z_]+):(?:"(?P<fquoted>[^"]*)"|(?P<fvalue>[^\s"]*))|"(?P<phrase>[^"]*)"|(?P<word>[^\s"]+))"""
)


class QuerySyntaxError(InvalidInput):
    code = "query_syntax"

    def __init__(self, message: str, query: str, position: int, length: int = 1, hint: str | None = None):
        pointer = f'\n  {query}\n  {" " * position}{"^" * max(1, length)}'
        super().__init__(f"{message} at character {position + 1}{pointer}", hint)
        self.position = position
        self.length = length


@dataclass
class ParsedQuery:
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    filters: Filters = field(default_factory=Filters)

    @property
    def text(self) -> str:
        """What the semantic channels embed: the words and phrases, in order of meaning."""
        return " ".join([*self.phrases, *self.words]).strip()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(query: str) -> str:
    """Control characters mean nothing in a search box: each becomes a space (positions are kept)."""
    return _CONTROL.sub(" ", query)


def tokens(query: str) -> Iterator[re.Match]:
    """The tokens of a cleaned query, in order: a field (`name:value`, `name:"two words"`), a phrase or a
    word, each maybe negated. The one scanner of queries: parse_query and THEN's split both use it.
    An unclosed quote raises QuerySyntaxError at its position."""
    position = 0
    while position < len(query):
        if query[position].isspace():
            position += 1
            continue
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise QuerySyntaxError("unclosed quote", query, position, hint='close the phrase with "')
        yield match
        position = match.end()


def parse_query(query: str) -> ParsedQuery:
    query = clean(query)
    parsed = ParsedQuery()
    terms: list[TermFilter] = []
    ranges: list[RangeFilter] = []
    for match in tokens(query):
        token = match.group(0)
        negate = match.group("neg") is not None
        if match.group("field") is not None:
            name = match.group("field").lower()
            value = match.group("fquoted") if match.group("fquoted") is not None else match.group("fvalue")
            if name == "within":
                raise QuerySyntaxError("within: goes with THEN", query, match.start(), len(token),
                                       hint="e.g. rocket launch THEN astronaut within:30s")
            if name not in FIELD_ALIASES:
                if match.group("fquoted") is None and value and "//" in token:
                    _add_word(parsed, token, negate)  # a URL-like word, not a field
                    continue
                raise QuerySyntaxError(
                    f"unknown field '{name}'", query, match.start("field"), len(name),
                    hint=f"fields: {', '.join(sorted(set(FIELD_ALIASES.values())))}",
                )
            if not value or not value.strip():
                raise QuerySyntaxError(f"'{name}:' needs a value", query, match.start(), len(token),
                                       hint=f'e.g. {name}:value or {name}:"two words"')
            canonical = FIELD_ALIASES[name]
            if canonical == "colour" and "@" in value:
                canonical = "canvas"  # colour:red@top-left: a colour in a cell
            try:
                if canonical in RANGE_FIELDS or (canonical == "year" and ".." in value):
                    ranges.append(_range(canonical, value.strip(), negate))
                else:
                    terms.append(_term(canonical, value, negate))
            except (ValueError, ValidationError) as exc:
                message = exc.errors()[0]["msg"].removeprefix("Value error, ") if isinstance(exc, ValidationError) else str(exc)
                raise QuerySyntaxError(f"bad value for {canonical}: {message}", query, match.start(), len(token)) from None
        elif match.group("phrase") is not None:
            phrase = " ".join(match.group("phrase").split())
            if phrase:
                (parsed.excluded if negate else parsed.phrases).append(phrase)
        else:
            word = match.group("word")
            try:
                placed = _placed(word)
            except ValueError as exc:
                raise QuerySyntaxError(str(exc), query, match.start(), len(token),
                                       hint="e.g. face@center, text@top-left, red@bottom-right") from None
            if placed is not None:
                terms.append(TermFilter(field="canvas", values=[placed], negate=negate))
            else:
                _add_word(parsed, word, negate)
    distinct = dict.fromkeys(t.lower() for t in (*parsed.words, *parsed.phrases, *parsed.excluded))
    searched = sum(_text_tokens(t) for t in distinct)
    if searched > MAX_TEXT_TOKENS:
        raise QuerySyntaxError(f"the query has {searched} words to match, more than {MAX_TEXT_TOKENS}", query, 0,
                               hint="shorten the query; to find texts like a long passage, use more like this")
    try:
        parsed.filters = Filters(terms=terms, ranges=ranges)
    except ValidationError as exc:  # more filters than a query may hold
        raise QuerySyntaxError(f"too many filters: {exc.errors()[0]['msg'].lower()}", query, 0, len(query),
                               "combine values of one field with commas, e.g. tag:a,b,c") from None
    return parsed


# Every word becomes a clause per text field in the lexical stores, and OpenSearch refuses a query of over
# 1,024 clauses (indices.query.bool.max_clause_count): 128 words x 5 fields, with the filters, stay below.
MAX_TEXT_TOKENS = 128
# What a store's tokenizer splits text into, roughly: runs of letters and digits, and each CJK character.
_TOKENS = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]|[^\W\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]+")


def _text_tokens(text: str) -> int:
    return len(_TOKENS.findall(text))


def _placed(word: str) -> str | None:
    """`face@center`, `text@top-left` or `red@top-left` as a canvas value; None for other words (an
    e-mail address stays a word). A known object or colour before the @ with an unknown cell is a mistake."""
    what, at, cell = word.partition("@")
    if not at or not what or "@" in cell:
        return None
    if object_name(what) is None and what.lower() not in COLOURS and what.lower() not in COLOUR_ALIASES:
        return None
    return canvas_value(what, cell)


def _add_word(parsed: ParsedQuery, word: str, negate: bool) -> None:
    if word in ("AND", "OR", "-"):
        return
    (parsed.excluded if negate else parsed.words).append(word)


def _term(field: str, value: str, negate: bool) -> TermFilter:
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not values:
        raise ValueError("empty value")
    if field == "type":
        unknown = [v for v in values if v.lower() not in TYPE_ALIASES]
        if unknown:
            raise ValueError(f"type must be image, video, text or audio, not '{unknown[0]}'")
        values = [TYPE_ALIASES[v.lower()] for v in values]
    elif field == "faces":
        unknown = [v for v in values if v.lower() not in YES_NO]
        if unknown:
            raise ValueError(f"faces must be yes or no, not '{unknown[0]}'")
        values = [YES_NO[v.lower()] for v in values]
    elif field == "visibility":
        values = [v.lower() for v in values]
    elif field == "canvas":
        if len(values) > 1 and "@" in values[-1] and not any("@" in v for v in values[:-1]):
            cell = values[-1].split("@", 1)[1]  # colour:red,blue@top-left: either colour in that cell
            values = [f"{v}@{cell}" for v in values[:-1]] + [values[-1]]
        if not all("@" in v for v in values):
            raise ValueError("give every value a cell (red@top-left,blue@center) or none (red,blue)")
        values = [canvas_value(*v.split("@", 1)) for v in values]
    return TermFilter(field=field, values=values, negate=negate)  # type: ignore[arg-type]


_COMPARISON = re.compile(r"^(>=|<=|>|<)(.+)$")


def _range(field: str, value: str, negate: bool) -> RangeFilter:
    is_date = field in ("created", "year")
    bounds: dict[str, object] = {}
    comparison = _COMPARISON.match(value)
    if comparison:
        op, operand = comparison.groups()
        key = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}[op]
        if is_date:
            # A partial date names a period: >2024 means after the end of 2024.
            operand_value = end_of_period(operand) if op in (">", "<=") else parse_instant(operand)
            key = {"gt": "gte", "lte": "lt"}.get(key, key)
            bounds[key] = utc_iso(operand_value)
        else:
            bounds[key] = _number(operand)
    elif ".." in value:
        low, high = value.split("..", 1)
        if not low and not high:
            raise ValueError("a range needs at least one end, e.g. 2024-01..2024-06")
        if low:
            bounds["gte"] = utc_iso(parse_instant(low)) if is_date else _number(low)
        if high:
            if is_date:
                bounds["lt"] = utc_iso(end_of_period(high))
            else:
                bounds["lte"] = _number(high)
    elif is_date:
        bounds = {"gte": utc_iso(parse_instant(value)), "lt": utc_iso(end_of_period(value))}
    else:
        number = _number(value)
        bounds = {"gte": number, "lte": number}
    return RangeFilter(field="created" if field == "year" else field, negate=negate, **bounds)  # type: ignore[arg-type]


def _number(text: str) -> float:
    text = text.strip().lower().removesuffix("s").removesuffix("px")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
