"""Every query of the blog, one file per sub-resource: articles, comments, tags, and
``authors`` (what every read joins of an article's or a comment's author).

Reads select the columns the answer shows and turn each row into its response schema once
(``blog/schemas.py``). A page of articles costs two statements whatever its size: one SELECT
returns each article with its author's profile and the reader's ``favorited`` and
``following`` flags (as ``EXISTS`` subqueries, each an index probe), and one more returns the
tags of all the page's articles (``IN (...)``). One article costs the same two.

Writes load the ORM rows they change. Counters (favorites, comment numbers) change with
``UPDATE ... SET n = n + 1``: the database does the arithmetic under its row lock, so
concurrent favorites are never lost.
"""

from mainspring.blog.repository.articles import (
    NEWEST_DRAFTS_FIRST,
    NEWEST_FIRST,
    ArticleRepository,
)
from mainspring.blog.repository.comments import CommentRepository
from mainspring.blog.repository.tags import TagRepository

__all__ = [
    "NEWEST_DRAFTS_FIRST",
    "NEWEST_FIRST",
    "ArticleRepository",
    "CommentRepository",
    "TagRepository",
]
