"""Reports: what the engine and its store hold, turned into plain data for people.

Each module builds one report from an engine or a store and gives its text
form; the commands only choose options and print:

    standing.py  where customers stand per journey, state and stage, and what was sent
    funnel.py    one journey's funnel: states reached, standing, goals, sends per day
    kpis.py      the KPI collectors over a window, and a journey's per-stage KPIs

Reports read; they never change the store.
"""
