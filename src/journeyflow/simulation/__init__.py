"""Simulation: a synthetic population of customers and backtests of draft
journeys against stored events, away from live data.
"""
