"""The URL shortener: links, redirects at ``/{code}``, click analytics, QR codes.

See docs/shortener.md for the guide; the redirect's fast path is ``redirects.py``.
"""
