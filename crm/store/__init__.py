"""Queries on the pipelines' collections, so the services read as domain steps: sending
(campaigns, communication logs, send chunks) and bulk imports (ingestions, their batches
and chunks, parked orders). Raw pymongo for these collections lives here only.

Functions that take a ``session`` run inside the caller's transaction (``transaction.run``).
"""
