"""Annotation fields as people see them: one mapping used by the API, the page, suggestions and exports.

Each annotation name has
  label   a friendly name ("Text in picture" for `ocr`), for tables, facets and exports;
  role    what it is: `text` (speech and OCR lines: searchable words), `label` (a term a model or a
          person chose: labels, colours, content warnings), `fact` (technical and EXIF metadata),
          `structured` (a value with parts, e.g. a face box: shown as fields, never indexed as words)
          or `internal` (the pipeline's notes about itself);
  floor   the confidence under which an annotator's guess is not shown as a snippet or a suggestion,
          nor becomes a facet value or matches a facet's filter (`label:`, `colour:`, `faces:`; and a kind
          or model all of whose guesses are under their floors is no `annotation:` or `model:` value): the
          facets describe what the hits shown are, not what a model half-guessed (it stays stored, with
          its confidence, on the asset, and searchable by its words).

The floors' defaults, and why:
  label 0.30  measured on the demo sample (api/sample: 16 pictures and the clip, bundled encoder): of the 60
              labels the annotator keeps (top 5 at >= 0.03), the 9 at >= 0.30 include 5 right ones (tripod,
              Egyptian cat, espresso, moped twice); of the 51 under it about 10 are right. The floor drops
              the wrong labels the issue names: the deep-field photo's "bubble" (0.19) and "nematode"
              (0.10), the horse silhouette's "Great Dane" (0.10). A confident mistake stays (the moon as
              "nematode", 0.75): no floor removes that.
  (not measured, justified:)
  ocr     0.50  RapidOCR's line scores: half-sure lines are mostly textures read as letters.
  face    0.60  the usual default threshold of face detectors' scores.
  colour  0.10  a colour's share of the picture: under 10 % it is a detail, not the picture's colour.
  sensitive, sensitive_part 0.50  NudeNet's own default.
  speech  0.00  Whisper's mean word probability is low on right proper nouns too: never hidden.
A floor may be changed with MEDIASEARCH_ANNOTATION_FLOORS, e.g. `label=0.4,ocr=0.6`.
"""

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from indexer.assets import Annotation

Role = Literal["text", "label", "fact", "structured", "internal"]


@dataclass(frozen=True)
class AnnotationField:
    name: str
    label: str
    role: Role
    floor: float = 0.0


_FIELDS: tuple[AnnotationField, ...] = (
    AnnotationField("label", "Label", "label", 0.30),
    AnnotationField("colour", "Colour", "label", 0.10),
    AnnotationField("ocr", "Text in picture", "text", 0.50),
    AnnotationField("speech", "Speech", "text", 0.0),
    AnnotationField("caption", "Caption", "text", 0.0),
    AnnotationField("face", "Face", "label", 0.60),  # a person's name (outside services); our boxes: `structured`
    AnnotationField("face_count", "Faces", "fact"),
    AnnotationField("sensitive", "Content warning", "label", 0.50),
    AnnotationField("sensitive_part", "Content warning (detail)", "label", 0.50),
    AnnotationField("captured", "Captured", "fact"),
    AnnotationField("camera", "Camera", "fact"),
    AnnotationField("gps", "Location", "structured"),
    AnnotationField("resolution", "Resolution", "fact"),
    AnnotationField("format", "Format", "fact"),
    AnnotationField("duration", "Duration (s)", "fact"),
    AnnotationField("frame_rate", "Frame rate", "fact"),
    AnnotationField("video_codec", "Video codec", "fact"),
    AnnotationField("audio_codec", "Audio codec", "fact"),
    AnnotationField("sample_rate", "Sample rate", "fact"),
    AnnotationField("channels", "Audio channels", "fact"),
    AnnotationField("has_audio", "Has audio", "fact"),
    AnnotationField("alpha", "Transparency", "fact"),
    AnnotationField("annotation_error", "Annotation error", "internal"),
    AnnotationField("ingest_note", "Ingest note", "internal"),
)
FIELDS: dict[str, AnnotationField] = {f.name: f for f in _FIELDS}


def field(name: str) -> AnnotationField:
    """The field of an annotation name; a name we do not know (an outside service's, a person's) is text
    shown under its own name, made readable ("scene_type" -> "Scene type")."""
    known = FIELDS.get(name)
    if known is not None:
        return known
    readable = name.split(":")[-1].replace("_", " ").strip() or name
    return AnnotationField(name, readable[:1].upper() + readable[1:], "text", 0.0)


def friendly_name(name: str) -> str:
    return field(name).label


@lru_cache(maxsize=4)
def _floor_overrides(raw: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in raw.split(","):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = min(1.0, max(0.0, float(value)))
        except ValueError:
            continue
    return out


def floor(name: str) -> float:
    return _floor_overrides(os.environ.get("MEDIASEARCH_ANNOTATION_FLOORS", "")).get(name, field(name).floor)


def floors_in_force() -> str:
    """A fingerprint of every role and floor in force (the defaults and MEDIASEARCH_ANNOTATION_FLOORS): the
    vocabulary records the one it was counted with (indexer/stores/vocabulary.py)."""
    raw = os.environ.get("MEDIASEARCH_ANNOTATION_FLOORS", "")
    fields = {f.name: [f.role, f.floor] for f in FIELDS.values()}
    return json.dumps({"fields": fields, "overrides": _floor_overrides(raw)}, sort_keys=True)


def confident(annotation: Annotation) -> bool:
    """At or above its annotator's floor (an annotation without a confidence, e.g. a person's, always is)."""
    return annotation.confidence is None or annotation.confidence >= floor(annotation.name)


# The annotations behind the value facets (and their filters): annotation name -> facet and filter field.
FACETED = {"label": "label", "colour": "colour", "face": "faces"}


def faceted_floors() -> dict[str, float]:
    """Annotation name -> its floor, for the annotations behind facets: the value facets (label, colour,
    faces) and the kind facets (`annotation`, `model`: a kind whose every guess is under its floor is not a
    kind the asset has). The stores fed from the outbox (tantivy, OpenSearch) apply them when indexing: a
    change of floors needs their index rebuilt (tantivy does it on open, OpenSearch with
    `mediasearch reindex --lexical-only`)."""
    return {name: floor(name) for name in FACETED} | floors_above_zero()


def floors_above_zero() -> dict[str, float]:
    """Every annotation name with a floor over 0, the defaults and MEDIASEARCH_ANNOTATION_FLOORS together; a
    name not here (a person's, an outside service's unknown one) has floor 0."""
    names = set(FIELDS) | set(_floor_overrides(os.environ.get("MEDIASEARCH_ANNOTATION_FLOORS", "")))
    return {name: floor(name) for name in sorted(names) if floor(name) > 0}


_FACE_BOX = re.compile(r"^face -?\d+,-?\d+,\d+,\d+$")


def structured(annotation: Annotation) -> bool:
    """A value with parts, not words: a face box ("face x,y,w,h", our detector's; a recognised person's
    name from an outside service is a label), GPS coordinates."""
    return field(annotation.name).role == "structured" or (
        annotation.name == "face" and _FACE_BOX.match(annotation.value) is not None)


def shown(annotation: Annotation) -> bool:
    """Worth showing as a snippet line or a suggestion: confident, and neither a structured value nor the
    pipeline's own note."""
    return not structured(annotation) and field(annotation.name).role != "internal" and confident(annotation)


def indexed_text(annotations: list[Annotation] | tuple[Annotation, ...]) -> str:
    """The annotation words the lexical stores index: every annotation but structured values (face boxes,
    GPS) and the pipeline's notes. Guesses under their floor stay searchable (a query names them on
    purpose); they are left out of snippets and suggestions."""
    return " ".join(a.value for a in annotations if not structured(a) and field(a.name).role != "internal")


def face_boxes(annotations: list[Annotation]) -> list[dict[str, float | int | None]]:
    """Face annotations ("face x,y,w,h") as structured boxes {x, y, w, h, confidence}."""
    boxes: list[dict[str, float | int | None]] = []
    for a in annotations:
        if a.name != "face":
            continue
        parts = a.value.removeprefix("face").strip().split(",")
        try:
            x, y, w, h = (int(float(p)) for p in parts)
        except ValueError:
            continue
        boxes.append({"x": x, "y": y, "w": w, "h": h, "confidence": a.confidence})
    return boxes
