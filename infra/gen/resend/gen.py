#!/usr/bin/env python3
"""Writes Mirra's Resend tables from Resend's OpenAPI document (run it through `run`).

Only the standard library: the document is OpenAPI 3.1 JSON, and the tables are the
JSON-Schema subset `shared/src/mirrors/toolkit/params` reads (objects, strings with
`maxLength`/`enum`, integers, numbers, booleans, arrays, `anyOf`).

Outputs, deterministic (sorted keys), so CI can diff a fresh run against the
committed files (`run --check`):

* `routes.json`      every operation of Resend's API: method, path template, operationId
* `operations.json`  for each operationId in operations.txt: method, path and its
                     parameter schema (the query string of a GET, the JSON body otherwise)
* `objects.json`     the fields of the objects the emulated operations answer with

Where the document lags the official SDKs (resend-python 2.51, resend-node 6.38), the
SDKs win; each such correction is in PATCHES below with its reason.
"""

import argparse
import json
import pathlib
import sys

API_VERSION = "openapi-1.5.0"


class GenError(Exception):
    pass


def resolve(doc, node):
    """A `$ref` followed to what it names (repeatedly)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise GenError(f"external $ref {ref}")
        target = doc
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
        seen += 1
        if seen > 32:
            raise GenError(f"$ref loop at {ref}")
    return node


def convert(doc, node):
    """An OpenAPI 3.1 schema as the toolkit's subset. What the subset cannot say
    (formats, minimum/maximum, minItems/maxItems, descriptions, examples) is
    dropped: resource code checks the bounds that matter in Resend's words."""
    node = resolve(doc, node)
    if "allOf" in node:
        # `allOf: [$ref, {description}]`: the referenced schema plus notes.
        parts = [resolve(doc, p) for p in node["allOf"]]
        typed = [p for p in parts if set(p) - {"description", "example"}]
        if len(typed) != 1:
            raise GenError(f"allOf with {len(typed)} typed parts")
        return convert(doc, typed[0])
    for key in ("oneOf", "anyOf"):
        if key in node:
            return {"anyOf": [convert(doc, alt) for alt in node[key]]}
    kind = node.get("type")
    if isinstance(kind, list):
        alts = []
        for k in kind:
            if k == "null":
                continue
            alts.append(convert(doc, {**node, "type": k}))
        return alts[0] if len(alts) == 1 else {"anyOf": alts}
    if "const" in node:
        return {"type": "string", "enum": [str(node["const"])]}
    if kind is None:
        return {}
    if kind == "object":
        props = node.get("properties", {})
        out = {
            "type": "object",
            "properties": {k: convert(doc, v) for k, v in props.items()},
        }
        required = [r for r in node.get("required", []) if r in props]
        if required:
            out["required"] = required
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = convert(doc, extra)
        elif extra is True or (extra is None and not props):
            # A free-form object (`headers`): any keys.
            out["additionalProperties"] = True
        return out
    if kind == "string":
        out = {"type": "string"}
        if "maxLength" in node:
            out["maxLength"] = node["maxLength"]
        if "enum" in node:
            out["enum"] = [str(v) for v in node["enum"]]
        return out
    if kind == "array":
        return {"type": "array", "items": convert(doc, node.get("items", {}))}
    if kind in ("integer", "number", "boolean"):
        return {"type": kind}
    raise GenError(f"unsupported type {kind!r}")


def operations(doc):
    """(method, path, operation) for every operation, in document order."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                yield method.upper(), path, op


def params_schema(doc, method, op):
    """The parameters an operation takes: its query string for GET and DELETE,
    its JSON body otherwise."""
    if method in ("GET", "DELETE"):
        props, required = {}, []
        for p in op.get("parameters", []):
            p = resolve(doc, p)
            if p.get("in") != "query":
                continue
            props[p["name"]] = convert(doc, p.get("schema", {}))
            if p.get("required"):
                required.append(p["name"])
        out = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        return out
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return {"type": "object", "properties": {}}
    return convert(doc, body["schema"])


def answers(doc, op):
    """The schema of an operation's 200 answer, resolved."""
    ok = op.get("responses", {}).get("200", {})
    schema = ok.get("content", {}).get("application/json", {}).get("schema")
    return resolve(doc, schema) if schema else None


# Where the document lags the SDKs. Each patch: (operationId, reason, function).
def _update_body(doc, schema):
    # The document gives emails/update no request body (its 200 answer is listed
    # as UpdateEmailOptions); both SDKs send `{"scheduled_at": …}`, and
    # resend-python puts the email's `id` in the body too.
    out = convert(doc, doc["components"]["schemas"]["UpdateEmailOptions"])
    out["properties"]["id"] = {"type": "string"}
    return out


def _attachments(doc, schema):
    # resend-python sends an attachment's bytes as a list of integers (its
    # `content: Union[List[int], str]`) and knows `inline_content_id` too.
    items = schema["properties"]["attachments"]["items"]
    items["properties"]["content"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]
    }
    items["properties"]["inline_content_id"] = {"type": "string"}
    return schema


def _batch(doc, schema):
    _attachments(doc, schema["items"])
    return schema


def _webhook_update(doc, schema):
    # resend-python sends the webhook's id in the update body (`webhook_id`).
    schema["properties"]["webhook_id"] = {"type": "string"}
    return schema


def _domain_update(doc, schema):
    # resend-python sends the domain's id in the update body.
    schema["properties"]["id"] = {"type": "string"}
    return schema


def _contact_update(doc, schema):
    # resend-python sends the contact's `id` (or names it by `email`) and any
    # `audience_id` in the update body too.
    schema["properties"]["id"] = {"type": "string"}
    schema["properties"]["audience_id"] = {"type": "string"}
    return schema


def _contact_create(doc, schema):
    # resend-python and resend-node send `segments` as `[{"id": …}]`; the
    # document has a list of ids. Both are taken.
    schema["properties"]["segments"]["items"] = {
        "anyOf": [
            {"type": "string"},
            {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        ]
    }
    return schema


def _broadcast_create(doc, schema):
    # `audience_id` (deprecated, still sent by both SDKs) names the segment as
    # well as `segment_id` does: one of the two is needed, not `segment_id`.
    schema["required"] = [r for r in schema.get("required", []) if r != "segment_id"]
    return schema


def _broadcast_id(doc, schema):
    # resend-python sends the broadcast's id in the body of update and send.
    schema.setdefault("properties", {})["broadcast_id"] = {"type": "string"}
    return schema


def _contact_segment(doc, schema):
    # resend-python sends its parameters (the segment, and the contact by id or
    # address) in the body of adding a contact to a segment, as well as in the path.
    props = schema.setdefault("properties", {})
    for name in ("segment_id", "contact_id", "email"):
        props[name] = {"type": "string"}
    return schema


PATCHES = {
    "broadcasts/create": _broadcast_create,
    "broadcasts/update": _broadcast_id,
    "broadcasts/send": _broadcast_id,
    "contacts/add-segment": _contact_segment,
    "contacts/create": _contact_create,
    "contacts/update": _contact_update,
    "domains/update": _domain_update,
    "webhooks/update": _webhook_update,
    "emails/update": _update_body,
    "emails/send": _attachments,
    "emails/send-batch": _batch,
}

# Paths the SDKs call that the document does not have: each takes the
# parameters of the documented operation it names. resend-python and
# resend-node list a segment's contacts at /segments/{id}/contacts, and send a
# contact given an `audience_id` (deprecated, kept by both) to
# /audiences/{id}/contacts[/{id}].
SDK_ONLY = {
    "segments/list-contacts": ("GET", "/segments/{segment_id}/contacts", "contacts/list"),
    "audiences/create-contact": ("POST", "/audiences/{audience_id}/contacts", "contacts/create"),
    "audiences/list-contacts": ("GET", "/audiences/{audience_id}/contacts", "contacts/list"),
    "audiences/get-contact": ("GET", "/audiences/{audience_id}/contacts/{id}", "contacts/get"),
    "audiences/update-contact": ("PATCH", "/audiences/{audience_id}/contacts/{id}", "contacts/update"),
    "audiences/remove-contact": ("DELETE", "/audiences/{audience_id}/contacts/{id}", "contacts/remove"),
}

# Object types the emulated operations answer with, by the schema that describes them.
OBJECTS = {
    "contact": "GetContactResponseSuccess",
    "domain": "Domain",
    "email": "Email",
    "webhook": "GetWebhookResponse",
}


def generate(doc, wanted):
    routes, ops = [], {}
    for method, path, op in operations(doc):
        routes.append({"id": op["operationId"], "method": method, "path": path})
        if op["operationId"] not in wanted:
            continue
        schema = params_schema(doc, method, op)
        patch = PATCHES.get(op["operationId"])
        if patch:
            schema = patch(doc, schema)
        ok = answers(doc, op) or {}
        returns = None
        if ok.get("properties", {}).get("object", {}).get("example") == "list":
            returns = "list"
        ops[op["operationId"]] = {
            "method": method,
            "path": path,
            "returns": returns,
            "items": None,
            "params": schema,
        }
    for op_id, (method, path, base) in SDK_ONLY.items():
        if op_id not in wanted:
            continue
        if base not in ops:
            raise GenError(f"{op_id} takes {base}'s parameters: list {base} too")
        routes.append({"id": op_id, "method": method, "path": path})
        ops[op_id] = dict(ops[base], method=method, path=path)
    missing = sorted(set(wanted) - set(ops))
    if missing:
        raise GenError(f"not in the document: {', '.join(missing)}")
    objects = {}
    for name, schema_name in OBJECTS.items():
        schema = resolve(doc, doc["components"]["schemas"][schema_name])
        objects[name] = {"fields": sorted(schema.get("properties", {})), "expandable": {}}
    return (
        {"routes": sorted(routes, key=lambda r: (r["path"], r["method"]))},
        {"api_version": API_VERSION, "operations": ops},
        {"objects": objects},
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--operations", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    doc = json.loads(pathlib.Path(a.spec).read_text())
    wanted = [
        line.strip()
        for line in pathlib.Path(a.operations).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    try:
        routes, ops, objects = generate(doc, wanted)
    except GenError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (("routes", routes), ("operations", ops), ("objects", objects)):
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        (out / f"{name}.json").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
