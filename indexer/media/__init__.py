"""Media handling: everything that reads or makes pictures, sound and text from bytes.

    decoding.py   type detection, safe image and text decoding with limits, hashing, thumbnails
    ffmpeg.py     ffprobe and ffmpeg: technical metadata and limits, decoded frames, the audio track
    shots.py      shot segmentation (MediaVerse D3.2 section 2.2.1)
    derived.py    pictures made from a video or audio: keyframes, animated preview, strip, waveform
    prepare.py    one video or audio file made ready for the catalog (original, derived files, speech)
    audio.py      speech to text (PocketSphinx)
    annotators/   labels, OCR, faces, colours, EXIF, content flags; MediaVerse annotation-service responses
    encoders/     texts and images to unit vectors: the protocol, bundled (MiniLM + EfficientNet-Lite0), CLIP,
                  and the adapter's projection learnt from captioned pictures
"""
