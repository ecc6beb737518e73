"""The social network: profiles, follows and blocks, posts, timelines and notifications.

Sub-parts, each with its repository (queries), service (rules) and router (HTTP):

- ``profiles/``: profiles (bio, image, counts), follow, block, followers and following lists;
- ``posts/``: posts, replies, quotes, reposts and likes;
- ``timelines/``: the home timeline (fan-out on read), a user's, a hashtag's, trending tags;
- ``notifications/``: notifications, the unread count, and their live WebSocket.

``models.py`` holds every table, ``schemas.py`` every request and response model,
``entities.py`` the hashtag and mention parser, ``deps.py`` the ``ETag`` of single resources,
``seed.py`` demo data, ``service.py`` the interface other modules use.
"""
