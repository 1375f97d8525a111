"""The HTTP ingest: the endpoints Segment's and RudderStack's clients (and
curl) send events to, committing each accepted event to the inbox before
answering `200`; with `/livez`, `/readyz` and `/metrics`.

One module per job:

* `app.py`: `create_app`, the routes, health and metrics;
* `auth.py`: write keys, from HTTP Basic auth or the body, compared in constant time;
* `body.py`: the body read within its cap, gunzipped within the same cap;
* `payload.py`: the body's JSON, its calls and what the batch says of them;
* `calls.py`: each call made an event (context merged, page/screen/group/alias
  mapped, the client's clock corrected) and checked;
* `accept.py`: back-pressure, the inbox commit, the dead letters (in a thread);
* `responses.py`: `200` with counts; every refusal as `{"code", "message"}`.
"""

from __future__ import annotations

from journeyflow.service.http.app import create_app

__all__ = ["create_app"]
