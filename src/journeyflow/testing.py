"""pytest plugin: journey tests under plain pytest, and fixtures for plugin authors.

(First version: only makes the registered `pytest11` entry point importable.)
"""

from __future__ import annotations
