"""Near-duplicate folding, measured (issue 17, 0b): what separates a transformed copy of a photo from a
different photo of the same subject, with the bundled encoder's image vectors and a perceptual hash.

    PYTHONPATH=. .venv/bin/python bench/near_duplicates.py [N]     # N Flickr8k photos (default 200)

Pairs:
  copies     each photo against five copies made with PIL: a 80% centre crop, a 50% rescale, a JPEG
             re-encode at quality 30, a mirror image, and a caption drawn over it;
  different  each photo against its nearest *other* photo in the encoder's space (the hard case:
             mostly another photo of the same subject, e.g. two dogs on grass, same ImageNet classes).
For both: the cosine of the bundled image vectors, and the Hamming distance of 64-bit pHashes of the
256 px thumbnails (the smaller of the distances to the copy and to its mirror image).
"""

import io
import sys
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "flickr8k-1k" / "images"


def transforms(image: Image.Image) -> dict[str, Image.Image]:
    w, h = image.size
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=30)
    texted = image.copy()
    ImageDraw.Draw(texted).text((10, h - 30), "© a caption over the photo, 2026", fill=(255, 255, 255))
    return {
        "crop80": image.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        "rescale50": image.resize((w // 2, h // 2)),
        "jpeg30": Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB"),
        "mirror": ImageOps.mirror(image),
        "text": texted,
    }


def thumb_hash(image: Image.Image) -> tuple[imagehash.ImageHash, imagehash.ImageHash]:
    small = image.copy()
    small.thumbnail((256, 256))
    return imagehash.phash(small), imagehash.phash(ImageOps.mirror(small))


def hash_distance(a: Image.Image, b: Image.Image) -> int:
    ha, _ = thumb_hash(a)
    hb, hb_mirror = thumb_hash(b)
    return min(ha - hb, ha - hb_mirror)


def main() -> None:
    from indexer.media.encoders.bundled import BundledEncoder

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    paths = sorted(ROOT.glob("*.jpg"))[:n]
    images = [Image.open(p).convert("RGB") for p in paths]
    encoder = BundledEncoder()
    vectors = encoder.encode_images(images)
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    nearest = sims.argmax(axis=1)
    copies: dict[str, list[tuple[float, int]]] = {}
    for i, image in enumerate(images):
        made = transforms(image)
        copy_vectors = encoder.encode_images(list(made.values()))
        for (name, copy), v in zip(made.items(), copy_vectors, strict=True):
            copies.setdefault(name, []).append((float(v @ vectors[i]), hash_distance(image, copy)))
    different = [(float(sims[i, j]), hash_distance(images[i], images[j])) for i, j in enumerate(nearest)]

    def line(label: str, pairs: list[tuple[float, int]]) -> str:
        c = np.array([p[0] for p in pairs])
        d = np.array([p[1] for p in pairs])
        return (f"| {label} | {len(pairs)} | {np.percentile(c, 5):.3f} / {np.median(c):.3f} | {(c >= 0.97).mean():.0%} "
                f"| {np.median(d):.0f} / {np.percentile(d, 95):.0f} | {(d <= 10).mean():.0%} | {((c >= 0.97) & (d <= 10)).mean():.0%} |")

    print("| pairs | n | cosine p5 / median | cosine >= 0.97 | pHash distance median / p95 | pHash <= 10 | both |")
    print("|---|---|---|---|---|---|---|")
    for name, pairs in copies.items():
        print(line(f"copy: {name}", pairs))
    print(line("different photo, nearest in the encoder's space", different))


if __name__ == "__main__":
    main()
