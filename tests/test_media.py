import io

import pytest
from PIL import Image

from indexer.errors import InvalidInput, TooLarge
from indexer.media.decoding import decode_text, load_image, media_type_for_path, text_hash
from pathlib import Path

from conftest import png


def test_load_image_accepts_real_images_and_reports_format():
    image, fmt = load_image(png((200, 10, 10)))
    assert image.mode == "RGB" and image.size == (64, 48) and fmt == "PNG"


def test_truncated_empty_and_fake_images_are_rejected_with_reasons():
    data = io.BytesIO()
    Image.new("RGB", (300, 300), (1, 2, 3)).save(data, format="JPEG")
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        load_image(data.getvalue()[:400], "cut.jpg")
    with pytest.raises(InvalidInput, match="empty"):
        load_image(b"", "zero.png")
    with pytest.raises(InvalidInput, match="not a readable image"):
        load_image(b"hello, I am text", "fake.png")


def test_pixel_limit_stops_decompression_bombs():
    with pytest.raises(TooLarge, match="pixels"):
        load_image(png((0, 0, 0), (4000, 4000)), "bomb.png", max_pixels=1_000_000)


def test_texts_are_validated():
    assert decode_text("  héllo\r\nworld ".encode()) == "héllo\nworld"
    with pytest.raises(InvalidInput, match="empty"):
        decode_text(b"   \n")
    with pytest.raises(InvalidInput, match="UTF-8"):
        decode_text(b"\xff\xfe\xfa")
    with pytest.raises(TooLarge):
        decode_text(b"x" * 20, max_chars=10)
    assert text_hash("a b\r\n") == text_hash("a b")


def test_unknown_file_types_name_the_accepted_ones():
    with pytest.raises(InvalidInput, match=r"unsupported file type '\.exe'.*jpg"):
        media_type_for_path(Path("tool.exe"))
