"""A reference model of what a journey does, and hypothesis strategies that drive it.

`reference.py` is written from docs/semantics.md and the journey language, not from
the engine's code: it must never import journeyflow.runtime.semantics, .engine or
.machine. `test_model_agreement.py` checks that the engine agrees with it.
"""
