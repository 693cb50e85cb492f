"""Content flags for moderation: NudeNet's detector (YOLOv8n at 320 px, ONNX, inside the nudenet
package). A picture with exposed intimate body parts gets one `sensitive` annotation, value
`nudity`, confidence the highest detection score; the parts found follow as `sensitive_part`."""

from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version

import numpy as np

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation

SENSITIVE_ANNOTATION = "sensitive"
PART_ANNOTATION = "sensitive_part"
EXPOSED = {
    "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "BUTTOCKS_EXPOSED", "ANUS_EXPOSED",
}
MIN_SCORE = 0.45


class SensitiveAnnotator:
    name = "sensitive"
    model = "nudenet-320n"

    def __init__(self) -> None:
        from nudenet import NudeDetector

        self.version = f"nudenet-{version('nudenet')}"
        self._detector = NudeDetector()

    def detections(self, image) -> list[dict]:  # noqa: ANN001 - PIL image
        return self._detector.detect(np.asarray(image.convert("RGB"))[:, :, ::-1].copy())  # NudeNet wants BGR

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        out = []
        for item in items:
            parts = [d for d in self.detections(item.image) if d["class"] in EXPOSED and d["score"] >= MIN_SCORE]
            notes = []
            if parts:
                notes.append(annotation(self, SENSITIVE_ANNOTATION, "nudity", max(d["score"] for d in parts)))
                best: dict[str, float] = {}
                for d in parts:
                    best[d["class"]] = max(best.get(d["class"], 0.0), d["score"])
                notes += [annotation(self, PART_ANNOTATION, c.lower().replace("_", " "), s) for c, s in best.items()]
            out.append(notes)
        return out


@lru_cache(maxsize=1)
def sensitive_annotator() -> SensitiveAnnotator:
    return SensitiveAnnotator()
