"""What the file itself says: EXIF capture date, camera and GPS position, the pixel size and the
format (`captured`, `camera`, `gps`, `resolution`, `format`). Only for uploaded pictures: video
keyframes have no file of their own."""

import io
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from PIL import Image, __version__ as PIL_VERSION

from indexer.media.annotators.base import ImageItem, annotation
from indexer.assets import Annotation

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, DATETIME = 0x010F, 0x0110, 0x0132
DATETIME_ORIGINAL = 0x9003


def _dms(value, ref) -> float | None:  # noqa: ANN001 - EXIF rationals
    try:
        d, m, s = (float(x) for x in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return -result if str(ref).upper() in ("S", "W") else result


def _date(text: object) -> str | None:
    try:
        return datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


class ExifAnnotator:
    name = "exif"
    model = "exif"
    version = f"pillow-{PIL_VERSION}"

    def facts(self, item: ImageItem) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if item.data is None:
            return out
        try:
            with Image.open(io.BytesIO(item.data)) as img:
                exif = img.getexif()
                size = img.size
                fmt = img.format or item.format
                ifd = exif.get_ifd(EXIF_IFD)
                gps = exif.get_ifd(GPS_IFD)
        except Exception:  # noqa: BLE001 - unreadable EXIF is no reason to reject a picture
            return out
        captured = _date(ifd.get(DATETIME_ORIGINAL) or exif.get(DATETIME) or "")
        if captured:
            out.append(("captured", captured))
        camera = " ".join(str(exif.get(t, "")).strip("\x00 ") for t in (MAKE, MODEL)).strip()
        if camera:
            out.append(("camera", camera))
        if gps and 2 in gps and 4 in gps:
            lat, lon = _dms(gps[2], gps.get(1, "N")), _dms(gps[4], gps.get(3, "E"))
            if lat is not None and lon is not None:
                out.append(("gps", f"{lat:.6f},{lon:.6f}"))
        out.append(("resolution", f"{size[0]}x{size[1]}"))
        if fmt:
            out.append(("format", "jpeg" if fmt in ("JPEG", "MPO") else fmt.lower()))
        return out

    def annotate(self, items: Sequence[ImageItem]) -> list[list[Annotation]]:
        return [[annotation(self, name, value) for name, value in self.facts(item)] for item in items]


@lru_cache(maxsize=1)
def exif_annotator() -> ExifAnnotator:
    return ExifAnnotator()
