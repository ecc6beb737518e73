"""Demo data: a believable social network among existing users, written in bulk.

``seed_demo(session, users, rng, size)`` makes the given users follow each other, post (with
hashtags and mentions), reply, quote, repost and like, over the last two weeks, and notifies
them as the services would. Popularity follows a power law, as on real networks: a few users
have many followers and write much, most have few. ``size`` scales the volume: size 1 is about
300 posts; the timeline benchmark uses size 334 (100 000 posts) over 10 000 users.

Rows are built in memory, with their counters computed as the services compute them and their
entities by the services' own parser (``stored_entities``), then inserted with one multi-row
``INSERT`` per table and batch: 100 000 posts take a minute or two, not the hours that as many
HTTP requests would.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.db import utcnow, uuid7
from mainspring.social.entities import stored_entities, unique
from mainspring.social.models import Follow, Like, Notification, Post, PostHashtag
from mainspring.social.posts.service import excerpt

POSTS_PER_SIZE = 300
SPAN = timedelta(days=14)
BATCH = 2000
"""Rows per INSERT: under the 32 767 bind parameters of PostgreSQL's protocol, whatever table."""

TOPICS = (
    "python",
    "databases",
    "postgres",
    "sqlite",
    "fastapi",
    "async",
    "testing",
    "coffee",
    "running",
    "books",
    "music",
    "design",
    "security",
    "linux",
    "opensource",
)
OPENINGS = (
    "Just shipped a small thing about",
    "Hot take on",
    "Reading a great piece on",
    "Three things I learned today about",
    "Does anyone else struggle with",
    "Weekend project:",
    "Slides from my talk on",
    "Unpopular opinion about",
)
ENDINGS = (
    "More soon.",
    "Thoughts?",
    "What would you do?",
    "Worth it.",
    "Thread below.",
    "",
)
REPLIES = (
    "Totally agree.",
    "Not sure about this one.",
    "Thanks for sharing!",
    "This saved my afternoon.",
    "Do you have a link?",
    "Same here.",
)


class _Network:
    """The rows being built, and the counters they imply."""

    def __init__(self, users: Sequence[User], rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.ids = [user.id for user in users]
        self.by_name = {user.username.lower(): user.id for user in users}
        # Power law: the k-th most popular user is weighted 1/k (order shuffled).
        order = list(self.ids)
        rng.shuffle(order)
        weights = {user_id: 1 / (rank + 1) for rank, user_id in enumerate(order)}
        self.cumulative = list(itertools.accumulate(weights[user_id] for user_id in self.ids))
        self.names = {user.id: user.username for user in users}
        self.follows: list[dict[str, Any]] = []
        self.posts: list[dict[str, Any]] = []
        self.hashtags: list[dict[str, Any]] = []
        self.likes: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []

    def popular(self, k: int) -> list[uuid.UUID]:
        """``k`` users drawn by popularity, without repeats."""
        picked = self.rng.choices(self.ids, cum_weights=self.cumulative, k=k * 2)
        return list(dict.fromkeys(picked))[:k]

    def moment(self) -> datetime:
        return self.now - SPAN * self.rng.random() ** 2  # more activity recently

    def notify(
        self, recipient: uuid.UUID, actor: uuid.UUID, kind: str, subject: str, subject_id: Any
    ) -> None:
        if recipient == actor:
            return
        created = self.moment()
        self.notifications.append(
            {
                "id": uuid7(),
                "recipient_id": recipient,
                "actor_id": actor,
                "kind": kind,
                "subject_type": subject,
                "subject_id": subject_id,
                "data": {},
                "read_at": created if self.rng.random() < 0.7 else None,
                "created_at": created,
            }
        )

    def follow_everyone(self) -> None:
        for follower in self.ids:
            wanted = min(len(self.ids) - 1, self.rng.randint(3, 40))
            for followee in self.popular(wanted + 1):
                if followee != follower:
                    self.follows.append(
                        {
                            "follower_id": follower,
                            "followee_id": followee,
                            "created_at": self.moment(),
                        }
                    )
                    if self.rng.random() < 0.3:
                        self.notify(followee, follower, "follow", "user", follower)

    def text(self, author: uuid.UUID) -> str:
        topic, other = self.rng.sample(TOPICS, 2)
        words = [self.rng.choice(OPENINGS), f"#{topic}"]
        if self.rng.random() < 0.3:
            words.append(f"and #{other}")
        if self.rng.random() < 0.25:
            mentioned = self.popular(1)[0]
            if mentioned != author:
                words.append(f"with @{self.names[mentioned]}")
        words.append(self.rng.choice(ENDINGS))
        return " ".join(word for word in words if word)

    def post(self, author: uuid.UUID, kind: str, body: str, **links: Any) -> dict[str, Any]:
        created = self.moment()
        original_author = None
        for parent_key in ("reply_to_id", "quote_of_id", "repost_of_id"):
            parent = links.get(parent_key)
            if parent is not None:  # an answer comes after what it answers
                created = max(created, parent["created_at"] + timedelta(minutes=1))
                links[parent_key] = parent["id"]
                if parent_key != "reply_to_id":
                    original_author = parent["author_id"]
        row = {
            "id": uuid7(),
            "author_id": author,
            "kind": kind,
            "body": body,
            "entities": stored_entities(body, self.by_name),
            "reply_to_id": None,
            "quote_of_id": None,
            "repost_of_id": None,
            "original_author_id": original_author,
            "like_count": 0,
            "reply_count": 0,
            "repost_count": 0,
            "quote_count": 0,
            "created_at": min(created, self.now),
            **links,
        }
        for entity in row["entities"]["mentions"]:
            self.notify(uuid.UUID(entity["user_id"]), author, "mention", "post", row["id"])
        for tag in unique([h["value"] for h in row["entities"]["hashtags"]]):
            self.hashtags.append(
                {"post_id": row["id"], "tag": tag, "created_at": row["created_at"]}
            )
        self.posts.append(row)
        return row

    def write_posts(self, count: int) -> None:
        originals: list[dict[str, Any]] = []
        reposted: set[tuple[Any, Any]] = set()
        for _ in range(count):
            author = self.popular(1)[0]
            roll = self.rng.random()
            if originals and roll < 0.2:
                parent = self.rng.choice(originals)
                reply = self.post(author, "reply", self.rng.choice(REPLIES), reply_to_id=parent)
                parent["reply_count"] += 1
                self.notify(parent["author_id"], author, "reply", "post", reply["id"])
            elif originals and roll < 0.27:
                quoted = self.rng.choice(originals)
                quote = self.post(author, "quote", self.text(author), quote_of_id=quoted)
                quoted["quote_count"] += 1
                self.notify(quoted["author_id"], author, "quote", "post", quote["id"])
            elif originals and roll < 0.35:
                original = self.rng.choice(originals)
                if (original["id"], author) in reposted:
                    continue
                reposted.add((original["id"], author))
                self.post(author, "repost", "", repost_of_id=original)
                original["repost_count"] += 1
                self.notify(original["author_id"], author, "repost", "post", original["id"])
            else:
                originals.append(self.post(author, "post", self.text(author)))

    def like_some(self) -> None:
        for row in self.posts:
            if row["kind"] == "repost":
                continue
            wanted = int(self.rng.expovariate(1 / 3))
            for user_id in self.popular(wanted):
                self.likes.append(
                    {"post_id": row["id"], "user_id": user_id, "created_at": row["created_at"]}
                )
                row["like_count"] += 1
                if self.rng.random() < 0.2:
                    self.notify(row["author_id"], user_id, "like", "post", row["id"])
        excerpts = {row["id"]: excerpt(row["body"]) for row in self.posts}
        for row in self.notifications:
            if row["subject_type"] == "post" and row["subject_id"] in excerpts:
                row["data"] = {"excerpt": excerpts[row["subject_id"]]}


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        await session.execute(insert(model), rows[start : start + BATCH])


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int = 1
) -> None:
    """Follows, posts, replies, quotes, reposts, likes and notifications among ``users``.

    Writes in the caller's transaction (flushes, never commits). Needs at least two users.
    """
    if len(users) < 2:
        raise ValueError("a social network needs at least two users")
    network = _Network(users, rng, utcnow())
    network.follow_everyone()
    network.write_posts(POSTS_PER_SIZE * size)
    network.like_some()
    await _insert(session, Follow, network.follows)
    await _insert(session, Post, network.posts)
    await _insert(session, PostHashtag, network.hashtags)
    await _insert(session, Like, network.likes)
    await _insert(session, Notification, network.notifications)
