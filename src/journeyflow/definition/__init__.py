"""The journey definition: the YAML journey language, its pydantic models, CEL
expressions, durations, the safe YAML reader and writer, loading with located
errors, the static checks and the JSON Schema.

This layer imports nothing from the store, the runtime or above: a journey can
be read, checked and drawn without a database.
"""
