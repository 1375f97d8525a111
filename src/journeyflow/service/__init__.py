"""`journeyflow run`: the engine as a long-running service.

One process (SQLite, or PostgreSQL) or a fleet of `--worker` processes
(PostgreSQL) takes Segment-style events over HTTP, keeps them in the inbox,
applies them in order, fires timers at their due time, recomputes segments on
their schedule and delivers the outbox. One module per job:

* `settings.py`: what `run` is told, from flags, environment and a file;
* `logs.py`: structlog as JSON or console, addresses and numbers redacted;
* `metrics.py`: the Prometheus metrics every part counts into;
* `http/`: the ingest endpoints the Segment and RudderStack clients call;
* `applier.py`: the inbox, applied in order, a batch at a time;
* `runner.py`: the loops of one process, their wake-ups and their drain;
* `serving.py`: what both run alike: the ingest's socket and uvicorn, delivery counts;
* `workers.py`: the PostgreSQL fleet (procrastinate).
"""
