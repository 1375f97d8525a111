"""Testing journeys and plugins: the journey-test runner behind
`journeyflow test`, the pytest plugin that collects journeys' `tests:`, and the
conformance kit for channel plugins.
"""
