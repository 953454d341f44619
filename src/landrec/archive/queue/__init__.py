"""The distributed mode: Celery on Redis, PostgreSQL as the database.

The server (`landrec archive serve --broker URL`), `scan`, `retag` and `previews` register rows
and send messages (`dispatch.py`); `landrec archive worker` runs the tasks (`tasks.py`) on any
machine that sees the storage. The database stays the truth of what is pending: a message only
says "look at these rows", so a lost, repeated or late message never loses or doubles a file.
"""
