"""Annotations made elsewhere: the MediaVerse annotation service's responses (D3.2 section 2.5).

D3.2 gives the gRPC messages by name — `ImageAnnotationResponse` with `image_action_recognition_result`,
`image_captioning_result`, `image_disturbing_content_result`, `image_face_recognition_result`,
`image_meme_detection_result`, `image_object_detection_result`, and `VideoAnnotationResponse` with the
`video_*` counterparts — but not their inner fields. We accept their JSON form leniently:

    {"status": 0, "error_msg": "", "model_version": "...",
     "image_captioning_result": {"caption": "a man playing tennis"},
     "image_object_detection_result": {"objects": [{"label": "person", "confidence": 0.98, "box": [x, y, w, h]}]},
     "image_face_recognition_result": {"faces": [{"name": "Roger Federer", "confidence": 0.91}]},
     "image_meme_detection_result": {"is_meme": true, "confidence": 0.97},
     "image_disturbing_content_result": {"disturbing": false, "confidence": 0.88},
     "video_action_recognition_result": {"actions": [{"label": "making tea", "confidence": 0.98, "start": 0, "end": 7.7}]},
     "video_disturbing_content_result": {"scenes": [{"start": 12.0, "end": 15.5, "confidence": 0.8}]}}

A result's list may be under `actions`, `tags`, `labels`, `objects`, `faces`, `detections`, `scenes`,
`predictions` or `results`; an entry may be an object (label/name/tag/class/action, confidence/score/
probability, start/end or timestamp, box), a pair [label, score], or a string as D3.2 prints its tables
("making tea 98%"). Confidences above 1 are read as percentages.

Each becomes an `Annotation` with its provenance: model `mediaverse:<task>` (e.g.
`mediaverse:video_action_recognition`), model_version the service's model or the caller's `source`.
Names: action, caption, object, face (the person's name; `faces:yes` finds it), meme and sensitive
(value `disturbing`) — the last two only when positive, so a search for "meme" never finds non-memes.
"""

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from indexer.assets import Annotation, TimeRange
from indexer.errors import InvalidInput

PREFIX = "mediaverse"
TASKS = {
    "action_recognition": "action",
    "captioning": "caption",
    "object_detection": "object",
    "face_recognition": "face",
    "meme_detection": "meme",
    "disturbing_content": "sensitive",
}
LIST_KEYS = ("actions", "tags", "labels", "objects", "faces", "detections", "scenes", "predictions", "results",
             "captions", "annotations", "segments", "persons", "people")
LABEL_KEYS = ("label", "name", "tag", "class", "class_name", "action", "object", "person", "caption", "text", "value")
SCORE_KEYS = ("confidence", "score", "probability", "prob", "certainty")
_PERCENT = re.compile(r"^(?P<label>.*?)[\s:]+(?P<score>\d+(?:\.\d+)?)\s*%$")


def _confidence(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
    if number > 1:
        number /= 100
    return max(0.0, min(1.0, number))


def _time(entry: dict[str, Any]) -> TimeRange | None:
    start = next((entry[k] for k in ("start", "start_time", "start_s", "begin", "from") if k in entry), None)
    end = next((entry[k] for k in ("end", "end_time", "end_s", "to") if k in entry), None)
    if start is None and end is None:
        at = next((entry[k] for k in ("timestamp", "time", "t", "second", "seconds") if k in entry), None)
        if at is None:
            return None
        start = end = at
    try:
        start_f = float(start if start is not None else end)
        end_f = float(end if end is not None else start)
        return TimeRange(start=start_f, end=max(start_f, end_f))
    except (TypeError, ValueError, ValidationError):
        return None


def _entries(result: Any) -> list[Any]:
    """The list of predictions inside one result message."""
    if result is None:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, str):
        return [result]
    if isinstance(result, dict):
        for key in LIST_KEYS:
            if isinstance(result.get(key), list):
                return result[key]
        return [result]
    return []


def _entry(entry: Any) -> tuple[str | None, float | None, TimeRange | None, dict[str, Any]]:
    if isinstance(entry, str):
        match = _PERCENT.match(entry.strip())
        if match:
            return match["label"].strip(), _confidence(match["score"]), None, {}
        return entry.strip() or None, None, None, {}
    if isinstance(entry, (list, tuple)) and entry and isinstance(entry[0], str):
        return entry[0], _confidence(entry[1]) if len(entry) > 1 else None, None, {}
    if isinstance(entry, dict):
        label = next((str(entry[k]) for k in LABEL_KEYS if isinstance(entry.get(k), (str, int, float)) and not isinstance(entry.get(k), bool)), None)
        score = next((_confidence(entry[k]) for k in SCORE_KEYS if k in entry), None)
        return label, score, _time(entry), entry
    return None, None, None, {}


def _positive(entry: dict[str, Any], label: str | None, flags: Iterable[str], word: str) -> bool | None:
    """Whether a binary result (meme? disturbing?) is positive; None when it does not say."""
    text = label
    for key in flags:
        value = entry.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value
    if text is None:
        return None
    text = text.lower().replace("_", " ").strip()
    if text in ("true", "yes", "1", word, f"is {word}"):
        return True
    if text in ("false", "no", "0", "regular", "normal", "safe") or text.startswith(("not ", "non", "no ")):
        return False
    return None


def from_mediaverse(response: dict[str, Any], source: str | None = None) -> list[Annotation]:
    """Our annotations from one MediaVerse annotation-service response (an image's or a video's)."""
    if not isinstance(response, dict):
        raise InvalidInput("a MediaVerse annotation response must be a JSON object")
    error = response.get("error_msg") or response.get("error")
    if error:
        raise InvalidInput(f"the annotation service reported an error: {error}", "send a successful response")
    version = source or response.get("model_version") or response.get("version") or response.get("source")
    out: list[Annotation] = []
    for key, result in response.items():
        if not key.endswith("_result"):
            continue
        task_key = key.removesuffix("_result")
        medium, _, task = task_key.partition("_")
        if medium not in ("image", "video", "threed", "audio") or task not in TASKS and task != "cross_modal_embedding":
            raise InvalidInput(f"unknown annotation result '{key}'",
                               "known: " + ", ".join(f"image_/video_{t}_result" for t in TASKS))
        if task == "cross_modal_embedding":
            continue  # a vector of another model's space: nothing to search by words
        name = TASKS[task]
        model = f"{PREFIX}:{task_key}"
        result_version = (result.get("model") or result.get("model_version")) if isinstance(result, dict) else None
        if name in ("meme", "sensitive") and isinstance(result, dict) and not any(isinstance(result.get(k), list) for k in LIST_KEYS):
            entries: list[Any] = [result]
        else:
            entries = _entries(result)
        for entry in entries:
            label, score, when, raw = _entry(entry)
            if name == "meme":
                positive = _positive(raw, label, ("is_meme", "meme", "prediction", "class"), "meme")
                if positive is False or (positive is None and label is None):
                    continue
                label = "meme"
            elif name == "sensitive":
                positive = _positive(raw, label, ("is_disturbing", "disturbing", "prediction", "class"), "disturbing")
                if positive is False:
                    continue
                label = "disturbing"
            elif label is None:
                continue
            elif name == "face" and label.lower() in ("", "unknown"):
                label = "unknown person"
            box = raw.get("box") or raw.get("bbox") if raw else None
            value = label if not box else f"{label} {','.join(str(round(float(b))) for b in box)}"
            try:
                out.append(Annotation(name=name, value=value, confidence=score, model=model,
                                      model_version=str(result_version or version) if (result_version or version) else None,
                                      time=when))
            except ValidationError as exc:
                raise InvalidInput(f"{key}: {exc.errors()[0]['msg']}") from None
    return out


def parse_external(value: Any, source: str | None = None) -> list[Annotation]:
    """Annotations given with an asset or posted for it: our own shape (a list of {name, value, ...}),
    a MediaVerse response, or a list mixing both."""
    items = value if isinstance(value, list) else [value]
    out: list[Annotation] = []
    for item in items:
        if isinstance(item, Annotation):
            out.append(item)
        elif isinstance(item, dict) and any(str(k).endswith("_result") for k in item):
            out += from_mediaverse(item, source)
        elif isinstance(item, dict):
            try:
                out.append(Annotation.model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                raise InvalidInput(f"annotation {'.'.join(str(x) for x in err['loc'])}: {err['msg']}",
                                   "give name and value, or a MediaVerse annotation response") from None
        else:
            raise InvalidInput("annotations must be objects", "give {name, value, ...} or a MediaVerse response")
    return out
