"""The demo's sample: scikit-image's bundled pictures, a few short texts and a short video clip
(three shots made from the pictures, one with a caption burnt in, and a spoken track by flite),
written to a folder."""

import io
import json
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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
    clip = write_clip(folder / CLIP_NAME)
    if clip is not None:
        lines.append({"id": "video-demo", "owner": "demo", "type": "video", "path": clip.name, "title": "Space and a motorcycle",
                      "description": "An astronaut, a red motorcycle and a rocket, with a voice over", "tags": ["space", "demo"]})
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    return manifest


# --- the demo clip
CLIP_NAME = "demo-clip.mp4"
CLIP_SIZE = (640, 360)
SHOT_SECONDS = 3.0
# (picture, caption burnt into the frame or None, what the voice says, when the voice starts)
CLIP_SHOTS = (
    ("astronaut", None, "Welcome to the media search demonstration.", 0.2),
    ("motorcycle", None, "Here is a red motorcycle in the garage.", 3.4),
    ("rocket", "ROCKET LAUNCH TODAY", "The rocket launch is today.", 6.4),
)
SPEECH_RATE = 16000


def _frame(name: str, caption: str | None) -> Image.Image:
    frame = Image.new("RGB", CLIP_SIZE, (0, 0, 0))
    picture = _image(name).convert("RGB")
    picture.thumbnail(CLIP_SIZE)
    frame.paste(picture, ((CLIP_SIZE[0] - picture.width) // 2, (CLIP_SIZE[1] - picture.height) // 2))
    if caption:
        draw = ImageDraw.Draw(frame)
        font = ImageFont.load_default(size=40)
        left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
        x, y = (CLIP_SIZE[0] - (right - left)) // 2, CLIP_SIZE[1] - (bottom - top) - 40
        draw.rectangle((x - 16, y - 12, x + right - left + 16, y + bottom - top + 16), fill=(255, 255, 255))
        draw.text((x - left, y - top), caption, fill=(0, 0, 0), font=font)
    return frame


def _speech(text: str, work: Path) -> np.ndarray | None:
    """`text` spoken by flite (Debian package flite), as 16 kHz mono int16; None without flite."""
    if shutil.which("flite") is None:
        return None
    wav = work / "say.wav"
    subprocess.run(["flite", "-voice", "kal16", "-t", text, "-o", str(wav)], check=True, capture_output=True, timeout=60)
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-f", "s16le", "-ac", "1", "-ar",
                          str(SPEECH_RATE), "-"], check=True, capture_output=True, timeout=60).stdout
    return np.frombuffer(raw, dtype=np.int16)


def write_clip(path: Path) -> Path | None:
    """A 9 s H.264/AAC clip of three 3 s shots (astronaut, motorcycle, rocket with a burnt-in caption) and a
    voice saying one sentence per shot. None when ffmpeg is not installed (the demo goes on without it)."""
    if path.exists():
        return path
    if shutil.which("ffmpeg") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mediasearch-clip-") as tmp:
        work = Path(tmp)
        total = int(SHOT_SECONDS * len(CLIP_SHOTS) * SPEECH_RATE)
        track = np.zeros(total, dtype=np.int16)
        inputs: list[str] = []
        for n, (name, caption, said, start) in enumerate(CLIP_SHOTS):
            _frame(name, caption).save(work / f"shot{n}.png")
            inputs += ["-loop", "1", "-framerate", "25", "-t", f"{SHOT_SECONDS}", "-i", str(work / f"shot{n}.png")]
            voice = _speech(said, work)
            if voice is not None:
                at = int(start * SPEECH_RATE)
                voice = voice[: total - at]
                track[at : at + len(voice)] = voice
        with wave.open(str(work / "voice.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SPEECH_RATE)
            out.writeframes(track.tobytes())
        graph = "".join(f"[{n}:v]" for n in range(len(CLIP_SHOTS))) + f"concat=n={len(CLIP_SHOTS)}:v=1:a=0,format=yuv420p[v]"
        tmp_out = work / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-i", str(work / "voice.wav"), "-filter_complex", graph,
             "-map", "[v]", "-map", f"{len(CLIP_SHOTS)}:a", "-c:v", "libx264", "-preset", "veryfast", "-crf", "28",
             "-r", "25", "-c:a", "aac", "-b:a", "64k", "-t", f"{SHOT_SECONDS * len(CLIP_SHOTS)}", "-movflags", "+faststart",
             str(tmp_out)],
            check=True, capture_output=True, timeout=300,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_out, path)
    return path
