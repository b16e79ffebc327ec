"""A layer's saved config -> readable typed attributes.

Keras configs nest: initializers, regularizers, constraints and dtype policies
are ``{"class_name": ..., "config": {...}}`` objects. Those become one string
(``GlorotUniform(seed=None)``); other nested dicts are flattened into dotted
names (``cell.units``). Nothing is deserialised into Python objects.
"""

from __future__ import annotations

from typing import Any

from netray import Attribute, AttrKind

# Keys of a layer config not shown as attributes: the name is the node's name,
# and nested model layers become nodes of their own.
SKIPPED_KEYS = frozenset({"name", "layers", "input_layers", "output_layers"})
MAX_TEXT = 400  # a Lambda's marshalled bytecode can be long; show its start


def object_text(value: dict[str, Any]) -> str:
    """``{"class_name": "L1L2", "config": {"l2": 0.01}}`` -> ``L1L2(l2=0.01)``."""
    name = str(value.get("class_name", "?"))
    config = value.get("config")
    if name == "DTypePolicy" and isinstance(config, dict) and "name" in config:
        return str(config["name"])
    if not isinstance(config, dict) or not config:
        return f"{name}()"
    args = ", ".join(f"{k}={_scalar_text(v)}" for k, v in config.items() if k not in ("name",))
    return f"{name}({args})"


def _scalar_text(value: Any) -> str:
    if isinstance(value, dict) and "class_name" in value:
        return object_text(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _is_serialized_object(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value and set(value) <= {
        "class_name",
        "config",
        "module",
        "registered_name",
        "shared_object_id",
        "build_config",
    }


def config_attributes(config: dict[str, Any], prefix: str = "") -> list[Attribute]:
    """Typed attributes of a (possibly nested) config dict, in the config's order."""
    attributes: list[Attribute] = []
    for key, value in config.items():
        if not prefix and key in SKIPPED_KEYS:
            continue
        name = f"{prefix}{key}"
        if value is None:
            continue
        if _is_serialized_object(value):
            text = object_text(value)  # a wrapped layer's whole config can be long
            attributes.append(Attribute(name, AttrKind.STRING, text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"))
        elif isinstance(value, dict):
            attributes.extend(config_attributes(value, prefix=f"{name}."))
        else:
            attributes.append(value_attribute(name, value))
    return attributes


def value_attribute(name: str, value: Any) -> Attribute:
    """One JSON value as a typed attribute."""
    plain = Attribute.of(name, value, max_text=MAX_TEXT)
    if plain is not None:
        return plain
    if isinstance(value, list) and all(v is None or isinstance(v, int) for v in value):
        return Attribute(name, AttrKind.SHAPE, tuple(value))
    return Attribute(name, AttrKind.STRING, _scalar_text(value))
