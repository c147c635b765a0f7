"""Handing a chunk to the workers through the queue, noting which queue message carries it,
so the sweep can tell a chunk waiting in the queue from one whose message was lost."""

from collections.abc import Callable

from bson import ObjectId

from crm.store import chunks

# (chunk id, delay in ms) → the queue's id of the message that carries it.
EnqueueChunk = Callable[[str, int], str]


def hand_out(chunk_id: ObjectId, enqueue_chunk: EnqueueChunk, delay_ms: int = 0) -> None:
    """Queue a QUEUED chunk (one with no queue message yet)."""
    chunks.note_message(chunk_id, enqueue_chunk(str(chunk_id), delay_ms))
