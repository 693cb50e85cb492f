"""The query language: what the search box accepts, and the errors it gives."""

import pytest

from query.language import QuerySyntaxError, parse_query


def test_words_phrases_exclusions_and_filters():
    parsed = parse_query('a person and a dog -label:meme "on a beach" -"stock photo" -blurry')
    assert parsed.words == ["a", "person", "and", "a", "dog"]
    assert parsed.phrases == ["on a beach"]
    assert parsed.excluded == ["stock photo", "blurry"]
    (meme,) = parsed.filters.terms
    assert (meme.field, meme.values, meme.negate) == ("label", ["meme"], True)
    assert parsed.text == "on a beach a person and a dog"


def test_field_values_aliases_and_lists():
    parsed = parse_query('type:videos owner:ana license:cc-by color:red tag:"outer space" label:dog,cat faces:yes year:2024')
    terms = {t.field: t.values for t in parsed.filters.terms}
    assert terms == {"type": ["video"], "owner": ["ana"], "licence": ["cc-by"], "colour": ["red"], "tag": ["outer space"],
                     "label": ["dog", "cat"], "faces": ["yes"], "year": ["2024"]}


def test_ranges():
    ranges = {r.field: r for r in parse_query("created:2024-01..2024-06 duration:>30 width:>=1024 height:..720").filters.ranges}
    assert (ranges["created"].gte, ranges["created"].lt) == ("2024-01-01T00:00:00+00:00", "2024-07-01T00:00:00+00:00")
    assert ranges["duration"].gt == 30 and ranges["width"].gte == 1024 and ranges["height"].lte == 720
    after = parse_query("created:>2023").filters.ranges[0]
    assert after.gte == "2024-01-01T00:00:00+00:00"  # after the whole of 2023
    years = parse_query("year:2020..2022").filters.ranges[0]
    assert (years.field, years.gte, years.lt) == ("created", "2020-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00")


@pytest.mark.parametrize("query, position, words", [
    ("cat lable:dog", 4, "unknown field 'lable'"),
    ("type:vid", 0, "type must be image, video, text or audio"),
    ('a "open phrase', 2, "unclosed quote"),
    ("duration:>long", 0, "'long' is not a number"),
    ("created:2024-13", 0, "not a date"),
    ("label:", 0, "needs a value"),
    ("faces:maybe", 0, "faces must be yes or no"),
])
def test_errors_point_at_the_offending_token(query, position, words):
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert info.value.position == position
    assert words in info.value.message
    assert "^" in info.value.message  # the caret line under the query


def test_urls_and_plain_text_are_not_fields():
    parsed = parse_query("see https://example.org/page now")
    assert parsed.words == ["see", "https://example.org/page", "now"]
    assert parse_query("").text == ""
