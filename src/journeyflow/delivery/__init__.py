"""Delivery: the outbox dispatcher that hands committed effects to channel
plugins under a lease, and the kit channel authors use.
"""
