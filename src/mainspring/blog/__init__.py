"""The blog: Markdown articles with tags, comments and favorites, feeds, search and Atom.

``router.py`` is the HTTP API, ``service.py`` the rules, ``repository.py`` the queries; the
RealWorld adapter (``mainspring.realworld``) serves the same services under another protocol.
"""
