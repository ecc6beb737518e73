"""The blog's domain errors: each is a kernel error (its HTTP status) with a code of its own."""

from __future__ import annotations

from mainspring.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    UnprocessableEntity,
)


class ArticleNotFound(NotFound):
    """No article with this slug, or one the caller may not see (another author's draft)."""

    code, title = "article-not-found", "Article Not Found"


class CommentNotFound(NotFound):
    code, title = "comment-not-found", "Comment Not Found"


class AuthorNotFound(NotFound):
    code, title = "author-not-found", "Author Not Found"


class TagNotFound(NotFound):
    code, title = "tag-not-found", "Tag Not Found"


class NotTheAuthor(Forbidden):
    """Only the author (or, where the rule says so, a moderator) may do this."""

    code, title = "not-the-author", "Not The Author"


class ArticleNotPublished(Conflict):
    """Comments and favorites go to published articles only."""

    code, title = "article-not-published", "Article Not Published"


class ConcurrentEdit(Conflict):
    """Another request changed the article between our read and our write."""

    code, title = "concurrent-edit", "Concurrent Edit"


class InvalidSchedule(UnprocessableEntity):
    """A status and a ``publish_at`` sent together that disagree (the schema says so too)."""

    code, title = "invalid-schedule", "Invalid Schedule"


class NoSchedule(Conflict):
    """A ``publish_at`` alone, or ``status: scheduled`` alone, for an article that has no
    schedule to move or keep: the request is well-formed, the article's state refuses it."""

    code, title = "no-schedule", "No Schedule"


class InvalidReply(Conflict):
    """A ``parent_id`` that names no comment, or no top-level comment of this article: the
    body is well-formed and the article exists, so neither a 422 nor a 404."""

    code, title = "invalid-reply", "Invalid Reply"
