"""Redis and the Dramatiq broker, owned here for every process: the API, the console, the
CLI and the workers (workers/, which import this package and are never imported by it).

- ``broker``: the broker and this process's settings, set up once at boot, and the
  process's one Redis client;
- ``layout``: the one module that knows how Dramatiq keeps its queues in Redis;
- ``handles``: what the API, the console and the workers put on the queue, by actor name;
- ``rate_limit``: the messages-per-second limit the senders share;
- ``counters``: the failed-authentication and sign-in counts the API and console keep;
- ``middleware``: what each worker process does around its messages.
"""
