"""A reference model of JOURNEY_DSL.md and hypothesis strategies that drive it.

`reference.py` is written from the contract (and docs/semantics.md), not from
the engine's code: it must never import journeyflow.runtime.semantics, .engine or
.machine. `test_model_agreement.py` checks that the engine agrees with it.
"""
