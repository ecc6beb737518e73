"""The fault suite: real servers, real signals, a load that records every acknowledged write.

``python -m faults`` (``make faults``) starts its own PostgreSQL cluster and Redis server on free
loopback ports under a temporary directory, runs ``mainspring serve --workers 2`` against them
under a steady read/write load, and injects, one after the other:

* ``pg-restart``   PostgreSQL ``pg_ctl restart -m fast`` under load
* ``pg-stop``      PostgreSQL stopped for a few seconds, then started
* ``redis-kill``   Redis killed with SIGKILL, then started again
* ``sigterm``      the service stopped with SIGTERM under load (a rolling restart), then started
* ``kill-9``       the service killed with SIGKILL under load, then started

For each it asserts: no 500 in the responses; no request slower than the configured bound;
every 503 carries ``Retry-After``; recovery within the target; ``/healthz`` always prompt; and
at the end every acknowledged write present exactly once, with its background job delivered.
docs/operations.md explains the figures; ``--json`` writes them for the record.
"""
