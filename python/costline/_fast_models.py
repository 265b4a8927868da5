"""The caller's SDK objects built from translated chunks, as the SDK's own
`construct_type` builds them (same classes, same field values, same fields set, same
extras), for a fraction of its time: the walk over each model's fields is planned once
per class instead of re-inspecting the type annotations on every chunk (the OpenAI
SDK's `construct_type` costs tens of µs per chat chunk, more than the rest of a
fallback stream's per-chunk work). Any annotation the plan does not know (a union
without a `type` discriminator, a dict, a date...) is left to the SDK's
`construct_type` itself, so the result never differs from the SDK's.

Works for the Stainless-generated SDKs (`openai`, `anthropic`): both build their
responses with the same `BaseModel.construct` (see their `_models.py`)."""

from __future__ import annotations

import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

_NONE = type(None)
# The plain values construct_type returns as they are.
_AS_IS = (str, int, bool, _NONE, Any, object)


class Builder:
    """Builds `cls` (an SDK model class, or a union of them) from JSON-shaped data."""

    def __init__(self, sdk_models: Any) -> None:
        # The SDK's `_models` module: its BaseModel, construct_type and defaults.
        self._models = sdk_models
        self._base = sdk_models.BaseModel
        self._construct_type = sdk_models.construct_type
        self._field_default = sdk_models.field_get_default
        self._plans: Dict[Any, Callable[[Any], Any]] = {}

    def builder(self, type_: Any) -> Callable[[Any], Any]:
        """A function data -> the SDK object `construct_type(type_=type_, value=data)` makes."""
        found = self._plans.get(type_)
        if found is None:
            found = self._plans[type_] = self._plan(type_)
        return found

    # --- planning (once per type) ----------------------------------------------------

    def _slow(self, type_: Any) -> Callable[[Any], Any]:
        construct_type = self._construct_type
        return lambda value: construct_type(value=value, type_=type_)

    def _plan(self, type_: Any) -> Callable[[Any], Any]:
        if typing.get_origin(type_) is typing.Annotated:
            inner = typing.get_args(type_)[0]
            union = self._union(inner)
            return union if union is not None else self._plan(inner)
        if type_ in _AS_IS or _is_literal(type_):
            return _identity
        if type_ is float:
            return _to_float
        origin = typing.get_origin(type_)
        args = typing.get_args(type_)
        if origin in (list, List):
            if not args:
                return self._slow(type_)
            item = self._lazy(args[0])

            def build_list(value: Any) -> Any:
                if not isinstance(value, list):
                    return self._construct_type(value=value, type_=type_)
                return [item(v) for v in value]

            return build_list
        if origin is typing.Union or _is_union_type(type_):
            non_none = [a for a in args if a is not _NONE]
            if len(non_none) == 1:
                # Optional[X]: the SDK validates against Optional[X] first; for data the
                # translation wrote (valid), that equals X built, which is what this does.
                return self._lazy(non_none[0])
            union = self._union(type_)
            return union if union is not None else self._slow(type_)
        if isinstance(type_, type) and issubclass(type_, self._base):
            return self._model(type_)
        return self._slow(type_)

    def _lazy(self, type_: Any) -> Callable[[Any], Any]:
        # Models refer to each other: plan a nested type when it is first built.
        def build(value: Any) -> Any:
            return self.builder(type_)(value)

        return build

    def _union(self, type_: Any) -> Optional[Callable[[Any], Any]]:
        """A union of models told apart by a literal `type` field (the SDKs' stream
        events and content blocks): the variant that literal names."""
        if typing.get_origin(type_) is not typing.Union and not _is_union_type(type_):
            return None
        variants: Dict[str, Any] = {}
        for variant in typing.get_args(type_):
            field = getattr(variant, "model_fields", {}).get("type") if isinstance(variant, type) else None
            if field is None or not _is_literal(field.annotation):
                return None
            for literal in typing.get_args(field.annotation):
                variants[literal] = variant
        slow = self._slow(type_)

        def build_union(value: Any) -> Any:
            variant = variants.get(value.get("type")) if isinstance(value, dict) else None
            if variant is None:
                return slow(value)
            return self.builder(variant)(value)

        return build_union

    def _model(self, cls: type) -> Callable[[Any], Any]:
        fields: List[Tuple[str, str, Callable[[Any], Any], Any, bool]] = []
        config = cls.model_config
        populate_by_name = bool(config.get("populate_by_name"))
        for name, field in cls.model_fields.items():
            key = field.alias or name
            default = self._field_default(field)
            # An immutable default is shared, as the SDK's would be equal anyway;
            # a mutable one is made per object, as the SDK makes it.
            shared = default is None or isinstance(default, (str, int, float, bool, tuple))
            build = self._lazy(field.annotation) if field.annotation is not None else _identity
            fields.append((name, key, build, default if shared else field, shared))
            if key != name and populate_by_name:
                return self._slow(cls)  # rare: aliases with populate_by_name; the SDK decides
        names = {key for _, key, _, _, _ in fields}
        extra_type = self._models._get_extra_fields_type(cls)
        field_default = self._field_default
        construct_type = self._construct_type
        new = cls.__new__
        setattr_ = object.__setattr__

        def build_model(value: Any) -> Any:
            if not isinstance(value, dict):
                return construct_type(value=value, type_=cls)
            m = new(cls)
            values: Dict[str, Any] = {}
            fields_set = set()
            for name, key, build, default, shared in fields:
                if key in value:
                    v = value[key]
                    fields_set.add(name)
                    if v is None:
                        values[name] = default if shared else field_default(default)
                    else:
                        values[name] = build(v)
                else:
                    values[name] = default if shared else field_default(default)
            extra = {}
            if len(value) > len(fields_set):
                for key, v in value.items():
                    if key not in names:
                        extra[key] = construct_type(value=v, type_=extra_type) if extra_type is not None else v
            setattr_(m, "__dict__", values)
            setattr_(m, "__pydantic_private__", None)
            setattr_(m, "__pydantic_extra__", extra)
            setattr_(m, "__pydantic_fields_set__", fields_set)
            return m

        return build_model


def _identity(value: Any) -> Any:
    return value


def _to_float(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _is_literal(type_: Any) -> bool:
    return typing.get_origin(type_) is typing.Literal


def _is_union_type(type_: Any) -> bool:
    import types

    return isinstance(type_, getattr(types, "UnionType", ()))


_builders: Dict[str, Builder] = {}


def chunk_builder(sdk: str, type_: Any) -> Callable[[Any], Any]:
    """`sdk` "openai" or "anthropic": a function data -> `type_` as that SDK builds it."""
    builder = _builders.get(sdk)
    if builder is None:
        if sdk == "openai":
            from openai import _models as models
        else:
            from anthropic import _models as models  # type: ignore[no-redef]
        builder = _builders[sdk] = Builder(models)
    return builder.builder(type_)
