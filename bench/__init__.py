"""The benchmark harness: real servers, real load, figures you can reproduce.

``python -m bench`` (or ``make bench``) measures Mainspring the way it runs in production: the
real server (``python -m mainspring serve``) in its own process on a fresh, migrated database,
driven by `wrk <https://github.com/wg/wrk>`_ from another process pinned to another CPU. Next to
every run it measures a *baseline*, a raw ASGI application served by the same uvicorn with the
same workers, so each figure comes with the ceiling it is compared to.

The parts, in the order a run uses them:

``scenarios``  what to measure: one declarative ``Scenario`` per request; adding one is a few
               lines there, with an optional seed step
``seeds``      the seed steps, one module per Mainspring module (``seeds/todo.py``...), and the
               users they sign in (``seeds/accounts.py``)
``settings``   the application settings the harness builds in its own process: explicit values
               only, never the shell's ``MAINSPRING_*`` or a ``.env`` file
``backends``   the state a run starts from: a fresh database, migrated; an empty Redis
``processes``  the server under test: CPU pinning, start, readiness, peak memory, clean stop
``baseline``   the raw ASGI application of the baseline scenarios
``wrk``        driving wrk with ``lua/scenario.lua`` and reading the JSON its ``done`` hook prints
``runner``     one scenario after another: seed, probe (status, SQL statements), warm up, load
``machine``    the CPU, memory and software versions a run measured on
``report``     the JSON and Markdown results, the table in ``docs/performance.md``
``errors``     ``BenchError``: the harness cannot measure (exit status 2)

``python -m bench.profiling SCENARIO`` (``profiling``) says where one request's time goes: the
app built in-process, the scenario's request sent many times through ``httpx.ASGITransport``
under ``cProfile``.
"""
