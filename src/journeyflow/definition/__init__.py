"""The journey definition: what a journey file says and whether it is valid.

    dsl.py              the pydantic models of a journey file (the language)
    loader.py           text or files -> checked `Journey`, problems at file:line:col
    yaml_reader.py      YAML 1.2 -> plain data and node positions, refusing unsafe YAML
    schema_problems.py  pydantic errors -> located problems
    checks.py           the static checks of a whole journey (graph, CEL, names)
    cel.py              CEL expressions: compiling, the names in scope, the date helpers
    durations.py        `14d`, `PT2H` -> timedelta
    yaml_writer.py      a journey back to YAML text
    schema.py           the JSON Schema of journey files

The loader runs the checks; the checks and the loader read positions from
`yaml_reader`. This layer imports nothing from the store, the runtime or
above: a journey can be read and checked without a database.
"""
