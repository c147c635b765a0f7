"""Sending a campaign: from its audience to one delivered message per member.

::

    control.start ──▶ materialize (a page at a time, one transaction per page):
                        PENDING logs + a send chunk (ids only) + counts + position;
                        SKIPPED logs for members ``exclusions`` rules out (opted out,
                        suppressed, over the frequency cap) and their contacts
                     ──▶ queue message naming the chunk
    delivery ──▶ lease the chunk ─▶ read its PENDING logs ─▶ one vendor request
                 (after an unknown outcome, ``reconcile`` asks the vendor first)
             ──▶ moves: PENDING → ACCEPTED | FAILED, counts and chunk state in one transaction
    receipts (vendor callbacks, grouped) ──▶ moves: ACCEPTED → SENT | FAILED
             ──▶ the move that settles the last message completes the campaign
    winner (an automatic winner): members outside the test share are materialised
            WAITING, in no chunk; at its time the best variant is chosen once, and the
            WAITING logs become PENDING with its message, a page and its chunks at a time
    sweeps: expired leases, lost queue messages, silent messages (looked up at the vendor),
            stalled materialisation, unfinished resumes and cancels, due winners

Each change of a message status is conditional on the status it leaves and counted in
the same transaction. ``moves`` makes them all but the winner's release of WAITING logs,
which, like a materialised page, commits with its chunks and its saved position.
"""
