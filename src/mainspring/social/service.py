"""The social module's interface to other modules (the blog, the RealWorld adapter, GraphQL).

- ``profile_service.get_profile(session, username, viewer_id) -> Profile``
- ``follow_service.follow(session, follower_id, username) -> Profile`` and ``unfollow(...)``
- ``notification_service.notify(session, recipient_id, actor_id, kind, subject_type,
  subject_id, data)``: a notification written in the caller's transaction (skipped when the
  recipient is the actor or blocked the actor) and pushed live once it commits.

Each is a singleton without state: pass the request's session, never commit it.
"""

from __future__ import annotations

from mainspring.social.notifications.service import NotificationService, notification_service
from mainspring.social.posts.service import PostService, post_service
from mainspring.social.profiles.service import (
    BlockService,
    FollowService,
    ProfileService,
    block_service,
    follow_service,
    profile_service,
)
from mainspring.social.schemas import Profile
from mainspring.social.timelines.service import TimelineService, timeline_service

__all__ = [
    "BlockService",
    "FollowService",
    "NotificationService",
    "PostService",
    "Profile",
    "ProfileService",
    "TimelineService",
    "block_service",
    "follow_service",
    "notification_service",
    "post_service",
    "profile_service",
    "timeline_service",
]
