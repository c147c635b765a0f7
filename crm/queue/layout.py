"""The one adapter that knows Dramatiq's Redis layout (written for the Dramatiq version
pinned in requirements.txt; tests/test_queue_layout.py holds it to that).

Dramatiq keeps each queue's messages in the hash ``{namespace}:{queue}.msgs`` until they
are acknowledged (its delay queue is the queue ``{queue}.DQ``), what each worker has taken
in the set ``{namespace}:__acks__.{worker}.{queue}``, and each worker's last beat in the
sorted set ``{namespace}:__heartbeats__``.
"""

from typing import cast

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

# The Dramatiq release this layout was read from; requirements.txt pins the same one.
WRITTEN_FOR = "2.2.1"


class Broker(RedisBroker):
    """Dramatiq's Redis broker, whose dead workers' messages go back to their queues when
    asked, rather than in the one broker call out of a thousand that Dramatiq picks.

    A worker process is alive while its heartbeat (Dramatiq's, by broker id) is fresher
    than ``heartbeat_timeout``. Dramatiq beats only when a consumer fetches, which a busy
    one does not, so live processes also ``beat()`` on their own.
    """

    @property
    def _heartbeats(self) -> str:
        return f"{self.namespace}:__heartbeats__"

    def beat(self) -> None:
        self.client.zadd(self._heartbeats, {self.broker_id: current_millis()})

    def dead_workers(self) -> list[str]:
        silent_since = current_millis() - self.heartbeat_timeout
        found = self.client.zrangebyscore(self._heartbeats, 0, silent_since)
        return [str(worker_id, "utf-8") for worker_id in cast(list[bytes], found)]

    def give_back_from_dead_workers(self, dead: list[str]) -> int:
        """Every message the ``dead`` workers had taken, back to its queue (Dramatiq's own
        maintenance, run on each queue and delay queue); returns how many."""
        queue_names = sorted(self.queues | self.delay_queues)
        pipe = self.client.pipeline()
        for worker_id in dead:
            for queue_name in queue_names:
                pipe.scard(f"{self.namespace}:__acks__.{worker_id}.{queue_name}")
        held = sum(pipe.execute())
        for queue_name in queue_names:
            self.scripts["dispatch"](
                keys=[self.namespace],
                args=[
                    "qsize",  # a command that changes nothing, to carry the maintenance
                    current_millis(),
                    queue_name,
                    self.broker_id,
                    self.heartbeat_timeout,
                    self.dead_message_ttl,
                    1,  # maintenance: now
                    self._max_unpack_size(),
                ],
            )
        return held

    def uptime_seconds(self) -> int:
        return int(self.client.info("server")["uptime_in_seconds"])

    def in_queue(self, queue_name: str, message_ids: list[str]) -> set[str]:
        """Which of ``message_ids`` are still in ``queue_name``, waiting, delayed or being
        worked on (Dramatiq keeps a message in the queue's hash until it is acknowledged)."""
        if not message_ids:
            return set()
        pipe = self.client.pipeline()
        for name in (queue_name, f"{queue_name}.DQ"):
            pipe.hmget(f"{self.namespace}:{name}.msgs", message_ids)
        found = pipe.execute()
        return {
            message_id
            for values in found
            for message_id, value in zip(message_ids, values, strict=True)
            if value is not None
        }
