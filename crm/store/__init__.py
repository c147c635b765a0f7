"""Queries on the hot collections (campaigns, communication logs, send chunks), so the
sending services read as domain steps. Raw pymongo for these collections lives here only.

Functions that take a ``session`` run inside the caller's transaction (``transaction.run``).
"""
