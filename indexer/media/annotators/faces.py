"""Faces: MTCNN (Zhang et al. 2016) from facenet-pytorch, its P-, R- and O-Net weights inside the
package. One `face` annotation per face (its box in pixels of the picture, x,y,w,h, and the
detector's probability) and one `face_count`; the `faces:yes` filter looks for `face`."""

from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation

FACE_ANNOTATION = "face"
COUNT_ANNOTATION = "face_count"
MIN_PROBABILITY = 0.92
MIN_FACE_PIXELS = 20
MAX_SIDE = 1024  # larger pictures are scaled down for detection (boxes are given in original pixels)


class FaceAnnotator:
    name = "faces"
    model = "mtcnn"

    def __init__(self) -> None:
        from facenet_pytorch import MTCNN

        self.version = f"facenet-pytorch-{version('facenet-pytorch')}"
        self._mtcnn = MTCNN(keep_all=True, device="cpu", min_face_size=MIN_FACE_PIXELS, post_process=False)

    def faces(self, image) -> list[tuple[tuple[int, int, int, int], float]]:  # noqa: ANN001 - PIL image
        scale = min(1.0, MAX_SIDE / max(image.size))
        picture = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)))
        if min(picture.size) < MIN_FACE_PIXELS:
            return []
        boxes, probs = self._mtcnn.detect(picture.convert("RGB"))
        if boxes is None or probs is None:  # no face: MTCNN gives None and [None]
            return []
        out = []
        for box, p in zip(boxes, probs, strict=True):
            if p is None or p < MIN_PROBABILITY:
                continue
            x1, y1, x2, y2 = (float(v) / scale for v in box)
            x1, y1 = max(0.0, x1), max(0.0, y1)
            out.append(((round(x1), round(y1), round(x2 - x1), round(y2 - y1)), float(p)))
        return out

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        out = []
        for item in items:
            found = self.faces(item.image)
            notes = [annotation(self, FACE_ANNOTATION, f"face {x},{y},{w},{h}", p) for (x, y, w, h), p in found]
            if found:
                notes.append(annotation(self, COUNT_ANNOTATION, str(len(found))))
            out.append(notes)
        return out


@lru_cache(maxsize=1)
def face_annotator() -> FaceAnnotator:
    return FaceAnnotator()
