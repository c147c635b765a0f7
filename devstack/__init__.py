"""Development tooling, not shipped in the image: ``python -m devstack`` (``make run``)
starts the whole stack locally, and ``devstack.embedded`` starts the embedded MongoDB and
Redis servers that it and the tests use."""
