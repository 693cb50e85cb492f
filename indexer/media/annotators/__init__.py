"""Image annotators, chosen by MEDIASEARCH_ANNOTATORS (comma-separated names, `all` or `none`).

| name | annotations | model (inside a PyPI package) |
|---|---|---|
| labels | label (ImageNet, top 5) | EfficientNet-Lite0, the shared pass of ingest |
| clip_tags | label (zero-shot over a vocabulary) | the collection's CLIP encoder (only with CLIP) |
| ocr | ocr (one per line of text) | RapidOCR PP-OCRv4 (rapidocr-onnxruntime) |
| faces | face (box, probability), face_count | MTCNN (facenet-pytorch) |
| colours | colour (name, share of the picture) | HSV naming rules |
| exif | captured, camera, gps, resolution, format | Pillow |
| sensitive | sensitive (nudity), sensitive_part | NudeNet 320n (nudenet) |

Each model is loaded once per process. `run_annotators` runs the chosen annotators over a batch,
in a small thread pool (the ONNX and PyTorch models release the GIL), and isolates failures: an
annotator that fails on a batch is retried item by item, and an item it still fails on gets a
`annotation_error` note instead of its annotations; the batch goes on.
"""

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from indexer.media.annotators.base import ImageAnnotator, ImageItem
from indexer.assets import Annotation
from indexer.errors import ConfigurationError

NAMES = ("labels", "clip_tags", "ocr", "faces", "colours", "exif", "sensitive")
ALIASES = {"label": "labels", "colors": "colours", "color": "colours", "colour": "colours", "face": "faces",
           "nsfw": "sensitive", "moderation": "sensitive", "tags": "clip_tags", "zeroshot": "clip_tags",
           "zero_shot": "clip_tags"}
ERROR_ANNOTATION = "annotation_error"

_cache: dict[tuple, ImageAnnotator] = {}


def parse_names(spec: str | Sequence[str]) -> list[str]:
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for part in parts:
        part = part.strip().lower()
        if not part or part == "none":
            continue
        if part == "all":
            names += NAMES
            continue
        part = ALIASES.get(part, part)
        if part not in NAMES:
            raise ConfigurationError(f"unknown annotator '{part}' in MEDIASEARCH_ANNOTATORS",
                                     f"choose from {', '.join(NAMES)}, or all / none")
        names.append(part)
    return list(dict.fromkeys(names))


def _load(name: str, encoder, vocabulary_path) -> ImageAnnotator | None:  # noqa: ANN001
    if name == "labels":
        from indexer.media.annotators.labels import label_annotator

        return label_annotator()
    if name == "clip_tags":
        from indexer.media.encoders.clip import ClipEncoder

        if not isinstance(encoder, ClipEncoder):
            return None  # zero-shot tags need a CLIP text tower
        key = ("clip_tags", encoder.id, str(vocabulary_path))
        if key not in _cache:
            from indexer.media.annotators.labels import ClipTagAnnotator, load_vocabulary

            _cache[key] = ClipTagAnnotator(encoder, load_vocabulary(vocabulary_path))
        return _cache[key]
    if name == "ocr":
        from indexer.media.annotators.ocr import ocr_annotator

        return ocr_annotator()
    if name == "faces":
        from indexer.media.annotators.faces import face_annotator

        return face_annotator()
    if name == "colours":
        from indexer.media.annotators.colours import colour_annotator

        return colour_annotator()
    if name == "exif":
        from indexer.media.annotators.exif import exif_annotator

        return exif_annotator()
    if name == "sensitive":
        from indexer.media.annotators.sensitive import sensitive_annotator

        return sensitive_annotator()
    raise ConfigurationError(f"unknown annotator '{name}'")  # pragma: no cover - parse_names checks


def load_annotators(spec: str | Sequence[str], encoder=None, vocabulary_path=None) -> list[ImageAnnotator]:  # noqa: ANN001
    """The annotators a setting names, loaded once per process. With a CLIP encoder, `labels` brings
    the zero-shot tags along."""
    names = parse_names(spec)
    if "labels" in names and "clip_tags" not in names:
        names.insert(names.index("labels") + 1, "clip_tags")
    loaded = []
    for name in names:
        try:
            annotator = _load(name, encoder, vocabulary_path)
        except ConfigurationError:
            raise
        except Exception as exc:  # an import or model file problem: say which annotator and how to fix it
            raise ConfigurationError(f"annotator '{name}' cannot load: {type(exc).__name__}: {exc}",
                                     "run `make install`, or leave it out of MEDIASEARCH_ANNOTATORS") from None
        if annotator is not None:
            loaded.append(annotator)
    return loaded


@dataclass
class AnnotationRun:
    annotations: list[list[Annotation]]
    seconds: dict[str, float] = field(default_factory=dict)  # per annotator, wall time on its thread
    failures: dict[str, str] = field(default_factory=dict)


def _one(annotator: ImageAnnotator, items: Sequence[ImageItem]) -> tuple[list[list[Annotation]], float, str | None]:
    started = time.perf_counter()
    try:
        out = annotator.annotate(items)
        if len(out) != len(items):
            raise RuntimeError(f"returned {len(out)} results for {len(items)} pictures")
        return out, time.perf_counter() - started, None
    except Exception as batch_error:  # noqa: BLE001 - isolate the item that fails
        out, first = [], None
        for item in items:
            try:
                out.append(annotator.annotate([item])[0])
            except Exception as exc:  # noqa: BLE001
                first = first or f"{type(exc).__name__}: {exc}"
                out.append([Annotation(name=ERROR_ANNOTATION, value=f"{annotator.name} failed: {type(exc).__name__}",
                                       model=annotator.model, model_version=annotator.version)])
        return out, time.perf_counter() - started, first or f"{type(batch_error).__name__}: {batch_error}"


def run_annotators(annotators: Sequence[ImageAnnotator], items: Sequence[ImageItem], workers: int = 2) -> AnnotationRun:
    """Every annotator over the batch; per item, the annotations in annotator order."""
    result = AnnotationRun([[] for _ in items])
    if not items or not annotators:
        return result
    if workers > 1 and len(annotators) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="annotator") as pool:
            outputs = list(pool.map(lambda a: _one(a, items), annotators))
    else:
        outputs = [_one(a, items) for a in annotators]
    for annotator, (per_item, seconds, failure) in zip(annotators, outputs, strict=True):
        result.seconds[f"annotate:{annotator.name}"] = round(seconds, 4)
        if failure:
            result.failures[annotator.name] = failure
        for i, notes in enumerate(per_item):
            result.annotations[i].extend(notes)
    return result


__all__ = ["ImageAnnotator", "ImageItem", "AnnotationRun", "NAMES", "load_annotators", "parse_names", "run_annotators"]
