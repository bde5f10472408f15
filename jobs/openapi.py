"""What the OpenAPI document says beyond what drf-spectacular derives from the serializers.

The API rejects fields it does not know in job configs, and a few rules span two fields; both
are stated here so that data the document calls valid is data the API accepts.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.serializers import Serializer

from jobs.serializers import answers
from jobs.serializers.config import StrictSerializer
from replication.config import SYSTEM_SCHEMAS

# Cross-field rules of MySQLConnectionConfigSerializer.validate, as JSON Schema.
_EMPTY = {"type": "string", "maxLength": 0}
_GIVEN = {"type": "string", "pattern": "\\S"}  # not blank once trimmed
MYSQL_CONNECTION_RULES = {
    "allOf": [
        {"description": "mysql_ssl_cert and mysql_ssl_key are given together, or neither.",
         "anyOf": [
             {"properties": {"mysql_ssl_cert": _EMPTY, "mysql_ssl_key": _EMPTY}},
             {"properties": {"mysql_ssl_cert": _GIVEN, "mysql_ssl_key": _GIVEN},
              "required": ["mysql_ssl_cert", "mysql_ssl_key"]},
         ]},
        {"description": "mysql_ssl_verify_identity needs mysql_ssl_ca.",
         "anyOf": [
             {"properties": {"mysql_ssl_verify_identity": {"enum": [False]}}},
             {"properties": {"mysql_ssl_ca": _GIVEN}, "required": ["mysql_ssl_ca"]},
         ]},
    ],
}



def _one_of_name_or_regex(name: str, regex: str, rename: str) -> dict[str, Any]:
    """Rules that give exactly one of a name and a regular expression, the latter with a rename."""
    return {"anyOf": [
        {"properties": {name: _GIVEN, regex: _EMPTY}, "required": [name]},
        {"properties": {name: _EMPTY, regex: _GIVEN, rename: _GIVEN}, "required": [regex, rename]},
    ]}


# Cross-field rules of the other config serializers' validate methods.
RULES = {
    "MySQLConnectionConfig": MYSQL_CONNECTION_RULES,
    "TableRule": _one_of_name_or_regex("table_name", "table_regex", "table_rename"),
    "SchemaRule": {
        **_one_of_name_or_regex("table_schema", "table_schema_regex", "table_schema_rename"),
        "properties": {"table_schema": {"not": {"enum": sorted(SYSTEM_SCHEMAS)}}},
    },
    "SrcTask": {"description": "binlog_pos needs a binlog_file.", "anyOf": [
        {"properties": {"binlog_pos": {"maximum": 0}}},
        {"properties": {"binlog_file": _GIVEN}, "required": ["binlog_file"]},
    ]},
    **{name: {"description": "failover=false needs a node_id for every task.", "anyOf": [
        {"properties": {"failover": {"enum": [True]}}},
        {"properties": {side: {"properties": {"node_id": _GIVEN}, "required": ["node_id"]}
                        for side in ("src_task", "dest_task")}},
    ]} for name in ("JobConfig", "SubscriptionJobConfig")},
}


def _strict_component_names() -> set[str]:
    names, pending = set(), [StrictSerializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        name = cls.__name__
        names.add(name[: -len("Serializer")] if name.endswith("Serializer") else name)
    return names


def _answer_component_names() -> set[str]:
    """The answers' shapes: an answer carries no key its schema does not list."""
    names = {"Message", "LoginAnswer", "Token"}
    pending: list[type] = [Serializer]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__ == answers.__name__:
            names.add(cls.__name__.removesuffix("Serializer"))
    return names


def postprocess(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook (``POSTPROCESSING_HOOKS``)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name in (_strict_component_names() | _answer_component_names()) & set(schemas):
        schemas[name]["additionalProperties"] = False
    if not settings.RSA_PRIVATE_KEY_PATH:
        for schema in schemas.values():
            _no_encrypted_passwords(schema)
    for name, field in (("TableRule", "table_regex"), ("SchemaRule", "table_schema_regex")):
        if name in schemas:  # compiled by the API (Python's re): a regular expression or empty
            schemas[name]["properties"][field]["format"] = "regex"
    for name, rules in RULES.items():
        if name in schemas:
            schemas[name]["allOf"] = [*schemas[name].get("allOf", []), rules]
    for schema in schemas.values():
        for field in schema.get("properties", {}).values():
            _string_rules(field)
            _string_rules(field.get("items", {}))
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if any("dtleToken" in need for need in operation.get("security", [])):
                for code, why in (("401", "No valid token."), ("403", "The role does not allow it.")):
                    operation["responses"].setdefault(code, {
                        "content": {"application/json": {"schema": {
                            "$ref": "#/components/schemas/Message"}}},
                        "description": why})
            _query_rules(operation)
            if not settings.RSA_PRIVATE_KEY_PATH:
                for parameter in operation.get("parameters", []):
                    _no_encrypted_passwords(parameter.get("schema", {}))
            for parameter in operation.get("parameters", []):
                _string_rules(parameter.get("schema", {}))
                if parameter["name"] == "job_config" and "JobConfig" in schemas:
                    # GET /v2/validation/job: the config as a JSON string
                    parameter.pop("schema", None)
                    parameter["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/JobConfig"}}}
    return result


def _string_rules(field: dict[str, Any]) -> None:
    """What every text field enforces: no NUL character, and when it may not be blank (it is
    trimmed first), a character that is not a blank."""
    if field.get("type") != "string" or {"pattern", "enum", "format"} & set(field):
        return
    no_nul = "[^\\u0000]*"
    field["pattern"] = (f"^{no_nul}[^\\s\\u0000]{no_nul}$" if field.get("minLength", 0) >= 1
                        else f"^{no_nul}$")


def _query_rules(operation: dict[str, Any]) -> None:
    """The MySQL routes take a connection config in the query string: state its cross-field
    rules by describing the parameters as one object, exploded into the query string."""
    parameters = operation.get("parameters", [])
    names = {p["name"] for p in parameters if p.get("in") == "query"}
    if not {"mysql_ssl_cert", "mysql_ssl_key", "mysql_host"} <= names:
        return
    for parameter in parameters:
        _string_rules(parameter.get("schema", {}))
    properties = {p["name"]: {**p["schema"], "description": p.get("description", "")}
                  for p in parameters}
    connection = {"type": "object", "properties": properties,
                  "required": sorted(p["name"] for p in parameters if p.get("required")),
                  "allOf": MYSQL_CONNECTION_RULES["allOf"]}
    operation["parameters"] = [{"in": "query", "name": "connection", "style": "form",
                                "explode": True, "required": True, "schema": connection,
                                "description": "The connection parameters, each its own query "
                                               "field."}]


def _no_encrypted_passwords(schema: dict[str, Any]) -> None:
    """Without DTLE_RSA_PRIVATE_KEY_PATH the API refuses encrypted passwords: say so."""
    flag = schema.get("properties", {}).get("is_mysql_password_encrypted")
    if flag is not None:
        flag["enum"] = [False]
        flag["description"] = (flag.get("description", "") + " This server has no RSA key "
                               "(DTLE_RSA_PRIVATE_KEY_PATH): only false.").strip()
