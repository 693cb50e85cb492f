"""The demo's sample: scikit-image's bundled pictures and a few short texts, written to a folder."""

import io
import json
from pathlib import Path

from PIL import Image

SAMPLE = Path(__file__).parent


def _image(name: str) -> Image.Image:
    import numpy as np
    import skimage.data

    if name == "motorcycle":
        array = skimage.data.stereo_motorcycle()[0]
    else:
        array = getattr(skimage.data, name)()
    if array.dtype != np.uint8:
        array = array.astype(np.float64)
        array = (255 * (array - array.min()) / max(1e-9, float(array.max() - array.min()))).astype(np.uint8)
    return Image.fromarray(array)


def write_sample(folder: Path) -> Path:
    """Write the sample images (PNG), texts and a manifest.jsonl; return the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, meta in json.loads((SAMPLE / "images.json").read_text()).items():
        path = folder / f"{name}.png"
        if not path.exists():
            buffer = io.BytesIO()
            _image(name).convert("RGB").save(buffer, format="PNG")
            path.write_bytes(buffer.getvalue())
        lines.append({"id": f"image-{name}", "owner": "demo", "type": "image", "path": path.name, **meta})
    for line in (SAMPLE / "texts.jsonl").read_text().splitlines():
        record = json.loads(line)
        lines.append({"owner": "demo", "type": "text", **record})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return manifest
