"""The RealWorld API's shapes (https://realworld-docs.netlify.app/), field for field.

Every request and response is wrapped in one key (``{"article": {...}}``), fields are
camelCase, and times are ISO 8601 with milliseconds (``2026-01-01T12:00:00.000Z``: the
specification's test suite insists on the fraction).

Requests *ignore* fields they do not know instead of refusing them, unlike the rest of the API:
RealWorld clients send back whole objects (a user with its token, an article with its slug).
Nothing is mass-assigned for all that: each field is copied by name into a service call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)
from pydantic.alias_generators import to_camel

from mainspring.accounts.schemas import Email, Password, Username
from mainspring.blog import schemas as blog
from mainspring.blog.models import BODY_MAX, COMMENT_MAX, DESCRIPTION_MAX, TAG_MAX, TITLE_MAX


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_timestamp, return_type=str)]


class Camel(BaseModel):
    """Python names in the code, camelCase on the wire (``tag_list`` is ``tagList``)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class RealWorldInput(Camel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# --- users and profiles -------------------------------------------------------------------------


def _blank_as_none(value: object) -> object:
    """Clients send back the whole user: an empty field means "not set", not a new value."""
    return None if value == "" else value


class LoginUser(RealWorldInput):
    email: str = Field(min_length=1, max_length=254, examples=["jake@jake.jake"])
    password: str = Field(min_length=1, max_length=128, examples=["jakejake"])


class LoginRequest(RealWorldInput):
    user: LoginUser


class NewUser(RealWorldInput):
    """The accounts API's rules: a valid address, a 3-32 character username, an 8-128
    character password (its policy is checked by the accounts service)."""

    username: Username
    email: Email
    password: Password


class NewUserRequest(RealWorldInput):
    user: NewUser


class UpdateUser(RealWorldInput):
    email: Annotated[Email | None, BeforeValidator(_blank_as_none)] = None
    password: Annotated[str | None, BeforeValidator(_blank_as_none)] = Field(None, max_length=128)
    username: Annotated[str | None, BeforeValidator(_blank_as_none)] = Field(None, max_length=32)
    bio: str | None = Field(None, max_length=500, examples=["I work at statefarm"])
    image: Annotated[str | None, BeforeValidator(_blank_as_none)] = Field(
        None, max_length=2048, pattern=r"^https://\S+$", examples=["https://example.com/me.png"]
    )


class UpdateUserRequest(RealWorldInput):
    user: UpdateUser


class User(Camel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(Camel):
    user: User


class Profile(Camel):
    username: str
    bio: str | None
    image: str | None
    following: bool

    @classmethod
    def of(cls, author: blog.Author) -> Profile:
        return cls(
            username=author.username, bio=author.bio, image=author.image, following=author.following
        )


class ProfileResponse(Camel):
    profile: Profile


# --- articles -----------------------------------------------------------------------------------

# Blank names are dropped (clients send what the user typed), "/" is refused as in the blog API.
TagName = Annotated[str, StringConstraints(max_length=TAG_MAX, pattern=r"^[^/\x00-\x1f\x7f]*$")]


class NewArticle(RealWorldInput):
    title: str = Field(min_length=1, max_length=TITLE_MAX, examples=["How to train your dragon"])
    description: str = Field(max_length=DESCRIPTION_MAX, examples=["Ever wonder how?"])
    body: str = Field(min_length=1, max_length=BODY_MAX, examples=["You have to believe"])
    tag_list: list[TagName] = Field(default_factory=list, max_length=10, examples=[["dragons"]])


class NewArticleRequest(RealWorldInput):
    article: NewArticle


class UpdateArticle(RealWorldInput):
    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    body: str | None = Field(None, min_length=1, max_length=BODY_MAX)
    tag_list: list[TagName] | None = Field(None, max_length=10)


class UpdateArticleRequest(RealWorldInput):
    article: UpdateArticle


class ArticleInList(Camel):
    """An article in a list: the specification leaves the body out of lists."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    favorited: bool
    favorites_count: int
    author: Profile

    @classmethod
    def fields_of(cls, article: blog.ArticleSummary) -> dict[str, object]:
        author = article.author
        return {
            "slug": article.slug,
            "title": article.title,
            "description": article.description,
            # The RealWorld test suite expects tags in alphabetical order.
            "tag_list": sorted(article.tags),
            "created_at": article.created_at,
            "updated_at": article.updated_at,
            "favorited": article.favorited,
            "favorites_count": article.favorites_count,
            "author": {
                "username": author.username,
                "bio": author.bio,
                "image": author.image,
                "following": author.following,
            },
        }

    @classmethod
    def of(cls, article: blog.ArticleSummary) -> ArticleInList:
        """The RealWorld shape of the blog's list item (validated once)."""
        return cls.model_validate(cls.fields_of(article))


class Article(ArticleInList):
    body: str

    @classmethod
    def of(cls, article: blog.ArticleSummary) -> Article:
        assert isinstance(article, blog.Article)  # the one with a body
        return cls.model_validate({**cls.fields_of(article), "body": article.body})


class ArticleResponse(Camel):
    article: Article


class ArticlesResponse(Camel):
    articles: list[ArticleInList]
    articles_count: int


# --- comments and tags --------------------------------------------------------------------------


class NewComment(RealWorldInput):
    body: str = Field(min_length=1, max_length=COMMENT_MAX, examples=["Thank you so much!"])


class NewCommentRequest(RealWorldInput):
    comment: NewComment


class Comment(Camel):
    id: int
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: Profile

    @classmethod
    def of(cls, comment: blog.Comment) -> Comment:
        return cls(
            id=comment.number,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            body=comment.body,
            author=Profile.of(comment.author),
        )


class CommentResponse(Camel):
    comment: Comment


class CommentsResponse(Camel):
    comments: list[Comment]


class TagsResponse(Camel):
    tags: list[str]
