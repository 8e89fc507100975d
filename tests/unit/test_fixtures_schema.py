"""Structured outputs: the generated value is deterministic and valid against the schema, as jsonschema judges."""
import datetime
import enum
import json
import re
import uuid
from typing import Annotated, Literal, Optional, Union
from urllib.parse import urlsplit

import jsonschema
import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field, conint, constr

from fastmock.fixtures.schema import (JSON_OBJECT_EXAMPLE, SchemaError, example, example_text,
                                      example_text_for)

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def valid(schema, validator=jsonschema.Draft202012Validator):
    value = example(schema)
    validator(schema, format_checker=FORMATS).validate(value)
    assert example(schema) == value                      # deterministic
    assert json.loads(example_text(schema)) == value
    return value


# -- hand-written schemas -----------------------------------------------------------------

SCHEMAS = [
    {},
    True,
    {"type": "null"},
    {"type": "boolean"},
    {"type": "string"},
    {"type": "string", "minLength": 20},
    {"type": "string", "maxLength": 3},
    {"type": "string", "minLength": 2, "maxLength": 2},
    {"type": "integer"},
    {"type": "integer", "minimum": 10},
    {"type": "integer", "maximum": -5},
    {"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12},
    {"type": "integer", "minimum": 3, "maximum": 3},
    {"type": "integer", "multipleOf": 7, "minimum": 10},
    {"type": "integer", "multipleOf": 3, "maximum": -1},
    {"type": "number"},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    {"type": "number", "minimum": 2, "maximum": 2},
    {"type": "number", "maximum": -10},
    {"type": "number", "multipleOf": 0.01, "minimum": 0.05},
    {"type": "number", "multipleOf": 0.25},
    {"type": "number", "multipleOf": 2.5, "minimum": 3, "maximum": 6},
    {"type": "integer", "minimum": 5, "maximum": 10, "exclusiveMinimum": True},   # draft 4 spelling
    {"enum": ["red", "green"]},
    {"enum": [None, 3]},
    {"type": "string", "enum": [1, "a"]},
    {"const": {"a": [1, 2]}},
    {"type": ["string", "null"]},
    {"type": ["null", "integer"]},
    {"type": "string", "nullable": True},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "time"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "hostname"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "ipv6"},
    {"type": "string", "format": "duration"},
    {"type": "string", "format": "made-up"},
    {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
    {"type": "string", "pattern": "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$"},
    {"type": "string", "pattern": "^\\+?[1-9]\\d{1,14}$"},
    {"type": "string", "pattern": "^(foo|bar)+baz$", "minLength": 10},
    {"type": "string", "pattern": "[^a-z0-9]+"},
    {"type": "string", "pattern": "^\\w+\\s\\w+$"},
    {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
    {"type": "string", "pattern": "^(?:[01]\\d|2[0-3]):[0-5]\\d$"},
    {"type": "string", "pattern": "abc$", "minLength": 6},
    {"type": "string", "pattern": "^[A-Z][a-z]*$", "minLength": 5, "maxLength": 8},
    {"type": "string", "pattern": "^(\\d)-\\1$"},
    {"type": "array"},
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "items": {"type": "string", "format": "email"}, "minItems": 2, "uniqueItems": True},
    {"type": "array", "items": {"type": "string"}, "maxItems": 0},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
    {"type": "array", "contains": {"const": 42}},
    {"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 100}, "maxItems": 1},
    {"type": "object"},
    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": False},
    {"type": "object", "required": ["x", "y"]},
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    {"type": "object", "minProperties": 3, "patternProperties": {"^x-[a-z]+$": {"type": "integer"}},
     "additionalProperties": False},
    {"type": "object", "properties": {"a": {}, "b": {}, "c": {}}, "maxProperties": 1},
    {"type": "object", "properties": {"card": {"type": "string"}, "billing": {"type": "string"}},
     "required": ["card"], "dependentRequired": {"card": ["billing"]}},
    {"properties": {"n": {"type": "integer"}}},
    {"$defs": {"Pos": {"type": "integer", "minimum": 1}}, "type": "array", "items": {"$ref": "#/$defs/Pos"}},
    {"definitions": {"Name": {"type": "string", "minLength": 3}}, "$ref": "#/definitions/Name"},
    {"$defs": {"a b": {"type": "integer"}, "c/d": {"type": "boolean"}},
     "type": "array", "prefixItems": [{"$ref": "#/$defs/a%20b"}, {"$ref": "#/$defs/c~1d"}]},
    {"$defs": {"N": {"type": "object", "properties": {"v": {"type": "integer"},
                                                       "next": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]}},
                     "required": ["v", "next"], "additionalProperties": False}}, "$ref": "#/$defs/N"},
    {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
     "required": ["children"]},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "string"}}, "required": ["b"]},
               {"properties": {"a": {"minimum": 5}}}]},
    {"allOf": [{"type": "integer", "minimum": 3}, {"maximum": 4}, {"multipleOf": 2}]},
    {"anyOf": [{"type": "string", "maxLength": 0}, {"type": "integer"}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]},
    {"oneOf": [{"type": "object", "properties": {"t": {"const": "a"}}, "required": ["t"]},
               {"type": "object", "properties": {"t": {"const": "b"}, "x": {"type": "integer"}},
                "required": ["t", "x"]}]},
    {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 2}]},
    {"type": "object", "properties": {"kind": {"enum": ["a", "b"]}},
     "if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["extra"]}},
    {"not": {"type": "integer"}, "type": "string"},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_hand_written_schemas(schema):
    valid(schema)


def test_values_look_like_what_the_schema_asks():
    assert example({"type": "string", "format": "date-time"}) == "2024-01-01T00:00:00Z"
    assert example({"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}) == "AAA-0000"
    assert example({"type": "integer", "multipleOf": 7, "minimum": 10}) == 14
    assert example({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}) == 0.5
    assert example({"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True}) == [1, 2, 3]
    assert example({"type": ["string", "null"]}) == "string"
    assert example({"oneOf": [{"type": "integer"}, {"type": "number"}]}) == 1.5


def test_formats_jsonschema_cannot_check_here_are_checked_by_hand():
    # jsonschema checks date-time, time, uri, hostname and duration only with optional packages
    fmt = lambda name, variant=0: example({"type": "array", "items": {"type": "string", "format": name},
                                           "minItems": variant + 1, "uniqueItems": True})[variant]
    for variant in (0, 1):
        assert datetime.datetime.fromisoformat(fmt("date-time", variant).replace("Z", "+00:00")).tzinfo
        parts = urlsplit(fmt("uri", variant))
        assert parts.scheme == "https" and parts.netloc
        assert re.fullmatch(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}", fmt("hostname", variant))
    assert datetime.time.fromisoformat(fmt("time").replace("Z", "+00:00")).tzinfo
    assert re.fullmatch(r"P(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?", fmt("duration"))


def test_a_recursive_schema_ends_by_leaving_out_what_is_optional():
    value = example({"$defs": {"N": {"type": "object", "properties": {
        "next": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]}}, "required": ["next"]}},
        "$ref": "#/$defs/N"})
    depth = 0
    while value is not None:
        value = value["next"]
        depth += 1
    assert depth <= 5


def test_json_object_example_is_a_small_object():
    assert JSON_OBJECT_EXAMPLE == {"result": "ok"}


def test_example_text_streams_in_tokens():
    assert example_text({"type": "object", "properties": {"a": {"type": "string"}}}) == '{"a": "string"}'


def test_example_text_for_caches_by_schema_text():
    schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    assert example_text_for(schema) == '{"n": 1}'
    assert example_text_for(schema) is example_text_for(schema)


def nested_arrays(depth: int) -> dict:
    schema: dict = {}
    for _ in range(depth):
        schema = {"items": schema, "minItems": 1}
    return schema


@pytest.mark.parametrize(("schema", "message"), [
    (False, "the schema is false: no value is valid"),
    ({"type": "object", "properties": {"a": False}, "required": ["a"]}, "the schema is false"),
    ({"$ref": "https://example.com/schema.json"}, "points outside the schema"),
    ({"$ref": "#/$defs/Missing"}, "points nowhere in the schema"),
    ({"$ref": "#nope"}, "is not a JSON pointer"),
    ({"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"}, "$ref loops"),
    ({"enum": []}, "enum must be a non-empty array"),
    ({"anyOf": []}, "anyOf must be a non-empty array"),
    ({"oneOf": [False, False]}, "no branch of oneOf can be satisfied"),
    ({"type": "array", "minItems": 10 ** 9}, "minItems 1000000000 is more than fastmock builds"),
    ({"type": "string", "minLength": 10 ** 9}, "minLength 1000000000 is more than fastmock builds"),
    ({"type": "array", "items": {"type": "array", "items": {"type": "array", "minItems": 100}, "minItems": 100},
      "minItems": 100}, "the schema asks for more than 100000 values"),
    ({"type": "object", "minProperties": 2, "properties": {"a": {}}, "additionalProperties": False},
     "minProperties needs more properties than the schema allows"),
    (["not", "a", "schema"], "a schema must be an object or a boolean"),
    ({"allOf": 3}, r"the schema cannot be read \(TypeError: "),
    ({"type": "string", "minLength": "3"}, r"the schema cannot be read \(TypeError: "),
    (nested_arrays(3000), r"the schema cannot be read \(RecursionError"),
    # bounds no value lies between
    ({"type": "number", "minimum": 5, "maximum": 3}, "no number is at least 5 and at most 3"),
    ({"type": "number", "exclusiveMinimum": 3, "maximum": 3}, "no number is above 3 and at most 3"),
    ({"type": "number", "minimum": 2, "exclusiveMaximum": 2}, "no number is at least 2 and below 2"),
    ({"type": "number", "minimum": 3, "exclusiveMinimum": True, "maximum": 3},
     "no number is above 3 and at most 3"),
    ({"type": "integer", "minimum": 1.2, "maximum": 1.8}, "no integer is at least 1.2 and at most 1.8"),
    ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, "no integer is above 1"),
    ({"type": "integer", "minimum": 1, "maximum": 4, "multipleOf": 5},
     "no integer multiple of 5 lies within the bounds"),
    ({"type": "number", "minimum": "1"}, "a numeric bound must be a finite number"),
    ({"type": "string", "minLength": 5, "maxLength": 3}, "minLength 5 is above maxLength 3"),
    ({"type": "array", "minItems": 4, "maxItems": 2}, "minItems 4 is above maxItems 2"),
    ({"type": "array", "prefixItems": [{}], "items": False, "minItems": 2},
     "minItems 2 is more than the 1 items allowed"),
    ({"type": "object", "minProperties": 3, "maxProperties": 1},
     "minProperties 3 is above maxProperties 1"),
    ({"type": "object", "properties": {"a": {"type": "integer", "minimum": 9, "maximum": 0}},
      "required": ["a"]}, "no integer is at least 9 and at most 0"),
])
def test_schemas_no_value_satisfies_raise_a_clear_error(schema, message):
    with pytest.raises(SchemaError, match=message if "\\(" in message else re.escape(message)):
        example(schema)


@pytest.mark.parametrize("schema", [
    {"type": "number", "minimum": 1, "maximum": 1},
    {"type": "integer", "minimum": 0.5, "maximum": 1.5},
    {"type": "string", "minLength": 3, "maxLength": 3},
    {"type": "array", "minItems": 2, "maxItems": 2},
    {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 1}, {"type": "string"}]},
])
def test_bounds_that_just_meet_still_get_a_value(schema):
    jsonschema.validate(example(schema), schema)


def test_a_pattern_it_cannot_build_falls_back_to_a_plain_string():
    assert example({"type": "string", "pattern": "^(?<name>x)$"}) == "string"     # JavaScript's group syntax


# -- schemas pydantic and the OpenAI SDK make ---------------------------------------------

class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str
    zip: Optional[Annotated[str, Field(pattern=r"^\d{5}$")]] = None


class Cat(BaseModel):
    pet_type: Literal["cat"]
    meows: int


class Dog(BaseModel):
    pet_type: Literal["dog"]
    barks: float


class Person(BaseModel):
    name: Annotated[str, Field(min_length=2, max_length=40)]
    age: conint(ge=0, le=130)
    email: Annotated[str, Field(json_schema_extra={"format": "email"})]
    color: Color
    priority: Priority = Priority.LOW
    tags: list[constr(min_length=1)] = []
    scores: dict[str, float] = {}
    address: Address
    previous: list[Address] = Field(default_factory=list, max_length=3)
    pet: Annotated[Union[Cat, Dog], Field(discriminator="pet_type")]
    either: Union[int, str]
    nickname: Optional[str] = None
    kind: Literal["a", "b"] = "a"
    born: datetime.date
    seen: datetime.datetime
    uid: uuid.UUID
    ratio: Annotated[float, Field(gt=0, lt=1)]
    step: Annotated[int, Field(multiple_of=5, gt=7)]
    pair: tuple[int, str]
    friends: list["Person"] = []


class Step(BaseModel):
    explanation: str
    output: str


class MathReasoning(BaseModel):
    steps: list[Step]
    final_answer: str


class Node(BaseModel):
    value: int
    children: list["Node"]


class Event(BaseModel):
    name: str
    date: str
    participants: list[str]
    location: Optional[Address]
    kind: Literal["meeting", "party"]


MODELS = [Person, Address, MathReasoning, Node, Event, Cat]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_pydantic_models_validate_the_value(model):
    value = valid(model.model_json_schema())
    model.model_validate(value)                              # what the SDKs' parse() runs
    model.model_validate_json(example_text(model.model_json_schema()))


@pytest.mark.parametrize("model", [Address, MathReasoning, Node, Event, Cat], ids=lambda m: m.__name__)
def test_openai_strict_mode_schemas(model):
    """What ``client.chat.completions.parse(response_format=Model)`` sends."""
    schema = to_strict_json_schema(model)
    value = valid(schema)
    model.model_validate(value)


def test_a_forced_tool_calls_parameters():
    parameters = {"type": "object", "properties": {
        "location": {"type": "string", "description": "City and country e.g. Bogotá, Colombia"},
        "units": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "units"], "additionalProperties": False}
    assert valid(parameters) == {"location": "string", "units": "celsius"}


def test_draft7_and_draft4_schemas():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "definitions": {"t": {"type": "array", "items": [{"type": "integer"}], "additionalItems": False}},
              "properties": {"t": {"$ref": "#/definitions/t"}}, "required": ["t"]}
    valid(schema, jsonschema.Draft7Validator)
    valid({"type": "array", "items": [{"type": "boolean"}, {"type": "null"}], "additionalItems": False},
          jsonschema.Draft7Validator)
    draft4 = {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1, "exclusiveMaximum": True}
    valid(draft4, jsonschema.Draft4Validator)
