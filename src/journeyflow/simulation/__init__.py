"""Simulation: running journeys on events in virtual time, away from live data.

    population.py  a synthetic, seeded population of customers' events (demo, benchmarks)
    replay.py      feeding events to an engine on a virtual clock, timers firing on time
    backtest.py    a draft journey alone over stored events, on an in-memory store

What came out of a run is read by `reports`, not here.
"""
