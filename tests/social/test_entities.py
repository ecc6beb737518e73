"""The hashtag and mention parser (pure functions: no database, no HTTP)."""

from __future__ import annotations

from mainspring.social.entities import MAX_MENTIONS, find_hashtags, find_mentions, unique


def test_hashtags_are_found_lower_cased_with_their_spans() -> None:
    text = "Love #Python, #café_au_lait and #SQL!"
    tags = find_hashtags(text)
    assert [t.value for t in tags] == ["python", "café_au_lait", "sql"]
    assert [text[t.start : t.end] for t in tags] == ["#Python", "#café_au_lait", "#SQL"]


def test_what_is_not_a_hashtag() -> None:
    assert find_hashtags("#2024 C# issue#3 &#39; ##") == []
    assert find_hashtags("#" + "a" * 101) == []  # longer than a tag may be
    assert [t.value for t in find_hashtags("#" + "a" * 100)] == ["a" * 100]


def test_mentions_are_usernames_after_a_boundary() -> None:
    text = "Thanks @ada. and @bob_1, @Cy-Z; mail bob@example.com, @x, @toolong" + "o" * 40
    mentions = find_mentions(text)
    assert [m.value for m in mentions] == ["ada", "bob_1", "Cy-Z"]
    assert [text[m.start : m.end] for m in mentions] == ["@ada", "@bob_1", "@Cy-Z"]


def test_mentions_are_capped() -> None:
    text = " ".join(f"@user{i}" for i in range(MAX_MENTIONS + 5))
    assert len(find_mentions(text)) == MAX_MENTIONS


def test_unique_keeps_the_first_spelling() -> None:
    assert unique(["Ada", "bob", "ADA", "Bob", "cy"]) == ["Ada", "bob", "cy"]
