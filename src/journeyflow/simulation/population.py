"""A synthetic but plausible population for `journeyflow demo` and benchmarks.

Two kinds of behaviour, both deterministic for a seed:
- retail customers (the shoppers of the `crm-*` journeys): sign-up with
  traits (e-mail, birthday, time zone), orders at a personal repurchase rhythm
  with order ids and totals, e-mail opens, a few unsubscribes;
- journey walkers: for every loaded journey, some customers walk its graph by
  sending the events its transitions wait for (with properties chosen to pass
  simple guards), days apart, so every bundled journey sees traffic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from journeyflow.definition import dsl

_ZONES = ["America/Sao_Paulo", "America/Toronto", "Europe/Lisbon", "Europe/Kyiv", "UTC"]
_COMPARISON = re.compile(
    r"(event\.properties|customer)\.(\w+)\s*(==|>=|>|<=|<)\s*"
    r"(?:'([^']*)'|\"([^\"]*)\"|(-?\d+(?:\.\d+)?)|(true|false))"
)


def retail_customer(
    rng: random.Random, cid: str, start: datetime, days: int
) -> list[dict[str, Any]]:
    """One shopper's year: sign-up, orders, opens, maybe an unsubscribe."""
    end = start + timedelta(days=days)
    t = start + timedelta(minutes=rng.randrange(days * 24 * 60 // 2))
    birthday = f"{rng.randrange(1960, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    events: list[dict[str, Any]] = [
        _identify(
            cid,
            t,
            {
                "email": f"{cid}@example.test",
                "birthday": birthday,
                "timezone": rng.choice(_ZONES),
                "first_name": cid.title(),
            },
        ),
        _track(
            cid,
            t + timedelta(seconds=1),
            "signed_up",
            {"source": rng.choice(["instagram", "google", "store", "referral"])},
        ),
    ]
    rhythm = rng.choice([20, 45, 90, 150, 400])  # mean days between orders
    if rng.random() < 0.25:
        rhythm = 10_000  # never buys
    order_no = 0
    t += timedelta(days=rng.expovariate(1 / max(rhythm / 2, 1)))
    while t < end:
        order_no += 1
        events.append(
            _track(
                cid,
                t,
                "order_completed",
                {
                    "order_id": f"{cid}-o{order_no}",
                    "total": round(rng.lognormvariate(4, 0.8), 2),
                    "coupon": rng.choice([None, None, None, None, "WELCOME10", "BDAY15"]),
                    "items": rng.randrange(1, 5),
                },
            )
        )
        t += timedelta(days=rng.expovariate(1 / rhythm))
    for _ in range(rng.randrange(0, 8)):
        when = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        events.append(_track(cid, when, "email_opened", {"template": "newsletter"}))
    if rng.random() < 0.04:
        when = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        events.append(_track(cid, when, "unsubscribed", {}))
    return [e for e in events if _when(e) < end]


def journey_walker(
    rng: random.Random, cid: str, journey: dsl.Journey, start: datetime, days: int
) -> list[dict[str, Any]]:
    """A customer who walks one journey's graph by sending what it waits for."""
    end = start + timedelta(days=days)
    t = start + timedelta(minutes=rng.randrange(days * 24 * 60 // 2))
    entry = journey.entry.on[0] if journey.entry.on else None
    if entry is None:
        return []
    traits = {"email": f"{cid}@example.test", "timezone": rng.choice(_ZONES)}
    traits.update(_satisfy(journey.entry.when, rng, "customer"))
    events = [_identify(cid, t, traits)]
    props = _satisfy(journey.entry.when, rng, "event.properties")
    if entry == "identify":
        events[0]["traits"].update(props)
    else:
        events.append(_track(cid, t + timedelta(seconds=1), entry, props))
    state = journey.initial
    for _ in range(12):
        st = journey.states[state]
        if st.final:
            break
        options = [tr for tr in st.transitions if tr.on is not None]
        timers = [tr for tr in st.transitions if tr.after or tr.at or tr.split]
        if not options or (timers and rng.random() < 0.3):
            break  # let the timers (or the split) take it from here
        chosen = rng.choice(options)
        t += timedelta(hours=rng.randrange(2, 24 * 10))
        if t >= end:
            break
        assert chosen.on is not None
        payload = _satisfy(chosen.when, rng, "event.properties")
        if chosen.on == "identify":
            events.append(_identify(cid, t, {**_satisfy(chosen.when, rng, "customer"), **payload}))
        else:
            customer = _satisfy(chosen.when, rng, "customer")
            if customer:
                events.append(_identify(cid, t - timedelta(seconds=1), customer))
            events.append(_track(cid, t, chosen.on, payload))
        if chosen.to and not chosen.internal:
            state = chosen.to
    return events


def population(
    journeys: Sequence[dsl.Journey], customers: int, start: datetime, days: int, seed: int = 7
) -> list[dict[str, Any]]:
    """The whole population's events in time order (stable for a seed)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    walkers = max(1, customers // 5) if journeys else 0
    for n in range(customers - walkers):
        events.extend(retail_customer(rng, f"c{n:06d}", start, days))
    for n in range(walkers):
        journey = journeys[n % len(journeys)]
        events.extend(journey_walker(rng, f"w{n:06d}", journey, start, days))
    events.sort(key=lambda e: (e["timestamp"], e["messageId"]))
    return events


def _satisfy(guard: str | None, rng: random.Random, prefix: str) -> dict[str, Any]:
    """Values that make simple comparisons in a guard true (most of the time)."""
    out: dict[str, Any] = {}
    for m in _COMPARISON.finditer(guard or ""):
        if m.group(1) != prefix or rng.random() < 0.2:
            continue
        name, op = m.group(2), m.group(3)
        if m.group(4) is not None or m.group(5) is not None:
            out[name] = m.group(4) if m.group(4) is not None else m.group(5)
        elif m.group(7) is not None:
            out[name] = m.group(7) == "true"
        else:
            number = float(m.group(6))
            bump = {"==": 0, ">=": 0, ">": 1, "<=": 0, "<": -1}[op]
            value = number + bump
            out[name] = int(value) if value.is_integer() and "." not in m.group(6) else value
    return out


def _identify(cid: str, t: datetime, traits: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": cid,
        "traits": traits,
        "timestamp": _iso(t),
        "messageId": f"{cid}-{_iso(t)}-identify-{len(traits)}",
    }


def _track(cid: str, t: datetime, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": cid,
        "event": name,
        "properties": properties,
        "timestamp": _iso(t),
        "messageId": f"{cid}-{_iso(t)}-{name}",
    }


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
