"""Canvas annotations for homes ingested before the spatial canvas existed (run by `mediasearch reindex`).

Every picture and every video keyframe that has none gets its colours per cell and the cells of the
faces found in it (indexer/media/annotators/canvas.py), computed from the stored bytes, and written to
every asset of that content with its lexical rows. OCR line positions need the OCR boxes, which older
homes did not keep: they come with the next ingest of those bytes.
"""

from collections.abc import Callable

from PIL import Image

from indexer.assets import TimeRange
from indexer.collection import Collection
from indexer.media.annotators.canvas import canvas_annotations
from indexer.media.decoding import load_image
from indexer.stores.catalog_canvas import add_derived_annotations, content_face_annotations, contents_without_canvas


def add_missing_canvas(collection: Collection, progress: Callable[[int, int], None] | None = None) -> int:
    """Add the canvas annotations to every content without them; returns how many contents got them."""
    catalog, home = collection.catalog, collection.media_root
    rows = contents_without_canvas(catalog)
    done = 0
    for n, row in enumerate(rows, 1):
        faces = content_face_annotations(catalog, row["id"])
        notes = []
        if row["media_type"] == "image":
            path = home / (row["media_path"] or "")
            if row["media_path"] and path.is_file():
                notes = canvas_annotations(load_image(path.read_bytes(), str(path))[0], faces)
        else:
            for segment in catalog.segments(row["id"]):
                path = home / (segment["keyframe_path"] or "")
                if not segment["keyframe_path"] or not path.is_file():
                    continue
                time = TimeRange(start=segment["start_s"], end=segment["end_s"])
                in_shot = [f for f in faces if f.time is not None and f.time.start == time.start]
                notes += [a.model_copy(update={"time": time})
                          for a in canvas_annotations(Image.open(path).convert("RGB"), in_shot)]
        if notes:
            with collection.write_lock:
                add_derived_annotations(catalog, row["id"], notes)
            done += 1
        if progress:
            progress(n, len(rows))
    collection.sync_lexical()
    return done
