"""The RealWorld ("Conduit") API adapter over accounts, the blog and social (see ``router.py``)."""
