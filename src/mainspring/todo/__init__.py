"""The task manager: shared projects with owner/editor/viewer members, tasks on board columns
that the owners define (WIP limits, done columns) with consistent manual ordering, optimistic
concurrency (ETag / If-Match), bulk changes, checklists, comments, activity history, due-date
reminders by mail, CSV and iCalendar exports.

Layout: ``models.py`` (tables), ``roles.py`` (who may do what), ``projects/``, ``columns/``,
``tasks/``, ``subtasks/``, ``comments/``, ``exports/`` (each with its schemas, queries, service
and routes), ``search.py`` (full text on both databases), ``background.py`` (reminders),
``seed.py`` (demo data).
"""
