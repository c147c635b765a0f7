"""Bulk imports of customers and orders: a pub-sub pipeline through the Dramatiq broker.

- ``intake`` (the API): reads the upload as a stream (``formats``), validates each record
  with the single-record endpoints' schemas (``kinds``), stores the valid ones in chunks
  and publishes a message naming each, answering at once with the job (``jobs``).
- ``consumer`` (the workers): applies each chunk in one transaction with the batch that
  counts it (``load_customers``, ``load_orders``); orders whose customer has not arrived
  yet wait in ``parking``.
- ``sweep`` (the workers' sweeper): publishes again the chunks whose message was lost.
"""
