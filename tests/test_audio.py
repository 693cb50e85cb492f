"""Speech to text with timestamps (PocketSphinx, offline), and audio assets end to end."""

import subprocess

import pytest

from conftest import VIDEOS
from indexer.access import ADMIN
from indexer.media.audio import shared_transcriber, windows_to_annotations, Word
from indexer.collection import Collection
from indexer.config import Settings
from indexer.pipeline.ingest import IngestStatus, ingest
from indexer.pipeline.inputs import file_input
from indexer.stores.lexical import LexicalQuery
from indexer.media.ffmpeg import audio_pcm
from indexer.stores.files import derived_folder


def test_the_pocketsphinx_model_ships_inside_the_package():
    from pathlib import Path

    import pocketsphinx

    model = Path(pocketsphinx.get_model_path())
    assert model.is_relative_to(Path(pocketsphinx.__file__).parent)  # inside the wheel: nothing downloaded
    assert any(model.rglob("mdef")) and (model / "en-us" / "en-us.lm.bin").is_file()


def test_words_come_with_their_times(media_dir):
    # speech.wav: "Welcome to the media search demonstration." from 0.5 s, "The coffee is hot ..." from 4.0 s
    words = shared_transcriber().words(audio_pcm(media_dir / "speech.wav", "speech", 60))
    said = [w.word for w in words]
    assert "welcome" in said and "coffee" in said and "sofa" in said
    at = {w.word: w for w in words}
    assert 0.4 <= at["welcome"].start < 1.2
    assert 4.0 <= at["coffee"].start < 5.5 and at["coffee"].end > at["coffee"].start
    assert at["sofa"].end <= 8.0
    starts = [w.start for w in words]
    assert starts == sorted(starts)


def test_windows_break_at_pauses_and_at_the_window_length():
    words = [Word("one", 0.0, 0.3, 0.9), Word("two", 0.35, 0.7, 0.7), Word("three", 2.0, 2.4, 0.8),
             Word("four", 2.45, 8.0, 0.8), Word("five", 8.05, 9.0, 0.5)]
    notes = windows_to_annotations(words, 6.0, "m", "v")
    assert [(a.value, a.time.start, a.time.end) for a in notes] == [
        ("one two", 0.0, 0.7), ("three four", 2.0, 8.0), ("five", 8.05, 9.0)]
    assert notes[0].confidence == pytest.approx(0.8) and notes[0].name == "speech"


def test_music_and_noise_give_no_words():
    # The sample clips have music and effects but nobody talking.
    for name in ("bigbuckbunny.mp4", "fire2.mp4"):
        assert shared_transcriber().words(audio_pcm(VIDEOS / name, name, 60)) == []


@pytest.fixture(scope="module")
def audio_collection(tmp_path_factory, bundled_encoder, media_dir):
    folder = tmp_path_factory.mktemp("audio")
    wav = media_dir / "speech.wav"
    files = []
    for ext, codec in (("mp3", "libmp3lame"), ("ogg", "libvorbis"), ("flac", "flac"), ("m4a", "aac")):
        out = folder / f"speech.{ext}"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-t", "3.4", "-c:a", codec, str(out)],
                       check=True)  # the first sentence: "Welcome to the media search demonstration."
        files.append(out)
    (folder / "silence.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE")  # a header and nothing else
    settings = Settings(home=folder / "home", encoder="bundled")
    collection = Collection.open(settings, create=True, encoder=bundled_encoder)
    outcomes = {o.id: o for o in ingest(collection, [file_input(f, "ana") for f in [wav, *files, folder / "silence.wav"]])}
    yield collection, outcomes
    collection.close()


def test_audio_files_are_ingested_with_their_transcript(audio_collection):
    collection, outcomes = audio_collection
    for name in ("speech.wav", "speech.mp3", "speech.ogg", "speech.flac", "speech.m4a"):
        assert outcomes[name].status == IngestStatus.added, (name, outcomes[name].reason)
        row = collection.catalog.asset_row(name)
        content = collection.catalog.content(row["content_id"])
        assert row["media_type"] == "audio" and content.media_type == "audio"
        assert content.duration == pytest.approx(8.0 if name == "speech.wav" else 3.4, abs=0.15)
        assert content.thumb_path.startswith(derived_folder(content.hash))  # the waveform picture
        assert (collection.home / content.thumb_path).is_file()
        assert collection.catalog.segments(content.id) == []  # no pictures, nothing in the image index
    assert outcomes["silence.wav"].status == IngestStatus.rejected
    assert collection.indexes["image"].ntotal == 0


def test_a_spoken_word_is_found_with_bm25_and_the_hit_knows_when(audio_collection):
    collection, _ = audio_collection
    hits = collection.lexical.search(LexicalQuery(words=["sofa"]), ADMIN, 10)
    assert [h.asset_id for h in hits] == ["speech.wav"]
    hits = collection.lexical.search(LexicalQuery(words=["demonstration"]), ADMIN, 10)
    assert {h.asset_id for h in hits} == {"speech.wav", "speech.mp3", "speech.ogg", "speech.flac", "speech.m4a"}
    speech = [a for a in collection.catalog.asset("speech.wav", ADMIN).annotations if a.name == "speech"]
    assert speech and all(a.model == "pocketsphinx-en-us" and a.model_version.startswith("pocketsphinx-") for a in speech)
    sofa = [a for a in speech if "sofa" in a.value]
    assert len(sofa) == 1 and 3.9 <= sofa[0].time.start and sofa[0].time.end <= 8.0
    technical = {a.name: a.value for a in collection.catalog.asset("speech.mp3", ADMIN).annotations if a.model == "ffprobe"}
    assert technical["audio_codec"] == "mp3" and float(technical["duration"]) == pytest.approx(3.4, abs=0.15)
