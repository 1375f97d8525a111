"""A `dsl.Journey` -> YAML 1.2 text that loads back to an equal model.

One job, the inverse of `yaml_reader.py`: write a journey out as a person would
(defaults left out), in a form that `loader.load_text` reads back equal; the
round-trip tests hold it to that for generated journeys.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.representer import RoundTripRepresenter

from journeyflow.definition.dsl import Journey
from journeyflow.definition.yaml_reader import CORE_TAG


class _Representer(RoundTripRepresenter):
    """Double-quotes text holding characters that some YAML readers take for
    line breaks or drop (NEL, LS, PS, BOM), so a dump always loads back equal."""


def _represent_str(representer: RoundTripRepresenter, value: str) -> Any:
    style = '"' if _AWKWARD.search(value) else None
    return representer.represent_scalar(CORE_TAG + "str", value, style=style)


_AWKWARD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")
_Representer.add_representer(str, _represent_str)


def dump_journey(journey: Journey) -> str:
    """YAML 1.2 text of a journey that loads back to an equal model.

    Defaults are left out so the text reads like a hand-written file; field
    order follows the models (`$schema`, `journey`, `version` first).
    """
    data = _plain(journey.model_dump(mode="python", by_alias=True, exclude_defaults=True))
    y = YAML(typ="rt", pure=True)
    y.Representer = _Representer
    y.version = None
    y.width = 4096  # no folding: long CEL lines stay on one line
    y.allow_unicode = True
    y.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
