"""Seed steps: the data a scenario needs, written once against the live server before the load.

A seed signs its users in over HTTP, as clients would (their tokens are real), and writes the
bulk of its data (thousands of users, posts, articles, tasks) straight into the database
through the modules' own ``seed_demo`` functions: as many HTTP requests would outlast the load.

``context``   ``SeedContext``, what a seed gets (a client on the server, the size, the database,
              the length of the load), and ``SeedValues``, what it returns
``accounts``  users: register and sign in one, insert many, sign in a pool of them
``todo``      the task board of ``todo-task-list``
``social``    the network of ``home-timeline``, the posters of ``create-post``
``blog``      the authors and articles of ``article-list``, ``single-article``, ``article-feed``

The application is imported inside the seed functions, not at the top of these modules: the
harness (``--list``, the baselines, the report) runs without loading it.
"""
