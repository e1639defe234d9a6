#!/usr/bin/env python3
"""Writes Mirra's Twilio tables from Twilio's OpenAPI documents (run it through `run`).

Only the standard library. Inputs, all OpenAPI 3.0 JSON from twilio/twilio-oai
(`spec/json/`, MIT), found in the specs folder (`--specs`):

* `twilio_api_v2010.json`   api.twilio.com, the 2010-04-01 API (messages, numbers)
* `twilio_verify_v2.json`   verify.twilio.com (Verify services, verifications)
* `twilio_messaging_v1.json` messaging.twilio.com; optional. Only MESSAGING_PATHS
  below are read from it. Without it, `--carry DIR` keeps the messaging entries of
  the tables already in DIR (the committed ones), so the other two documents can
  still be regenerated and checked. The committed messaging entries were made from
  twilio/twilio-oai spec/json/twilio_messaging_v1.json at commit
  d50069b44ea8cd23141385bdb6db48f16ff75bb5 (2026-04-14), the same commit as the two
  documents in ../shared/specs.

Outputs, deterministic (sorted keys), in the format
`shared/src/mirrors/toolkit/params` reads, so CI can diff a fresh run against the
committed files (`run --check`):

* `routes.json`      every operation of the documents (Messaging: MESSAGING_PATHS
                     only): product-prefixed operationId, method, path as the
                     document spells it (`/2010-04-01/Accounts/{AccountSid}/Messages.json`)
* `operations.json`  for each id in operations.txt: method, path, what it answers
                     with (`returns`, `items`) and its parameter schema: the
                     form-encoded body of a POST, the query string of a GET or
                     DELETE. Path parameters are not parameters. Names stay
                     Twilio's (`To`, `MediaUrl`, `DateSent<`).
* `objects.json`     the fields of each object type the emulated operations answer with

Operation ids are `<product>/<operationId>` (`api/CreateMessage`,
`verify/CreateService`, `messaging/CreateService`): the documents reuse ids.

Schemas are cut down to the toolkit's subset (its `RawSchema` takes `type`,
`properties`, `required`, `additionalProperties`, `items`, `maxLength`, `enum`,
`format`, `anyOf` and nothing else): formats (`phone-number`, `uri`, `date-time`,
`http-method`, `int64`), patterns, minLength, minimum/maximum, descriptions and
`x-twilio` notes are dropped; `$ref` enums (`message_enum_schedule_type`) become
strings with `enum`; a parameter with no type (Verify's `ChannelConfiguration`, a
JSON text on the wire) stays `{}`, any value. Parameter objects are closed (no
`additionalProperties`): Twilio ignores unknown parameters, and the mirror's
pipeline drops them before it validates.

Object type names come from the component schema's name: its last dotted segment
(`api.v2010.account.message` -> `message`, `api.v2010.account.message.media` ->
`media`, `api.v2010.account.available_phone_number_country.available_phone_number_local`
-> `available_phone_number_local`, `verify.v2.service.verification` ->
`verification`), with the product in front where that segment alone would not say
whose it is (PREFIXED: `verify.v2.service` -> `verify_service`,
`messaging.v1.service` -> `messaging_service`, `messaging.v1.service.phone_number`
-> `messaging_phone_number`). Two schemas under one name are an error.

Where the documents lag what Twilio and its SDKs send, PATCHES below correct them,
each with its reason. The parameters of every emulated operation were compared
with twilio-python 9.11.0 and twilio-node 5.13.2 / 6.0.2: they agree.
"""

import argparse
import json
import pathlib
import sys

# The version Twilio's 2010 API names itself in every answer (`api_version`);
# Verify and Messaging are versioned by their paths (/v2, /v1).
API_VERSION = "2010-04-01"

# (product, file in the specs folder, required)
DOCUMENTS = [
    ("api", "twilio_api_v2010.json", True),
    ("verify", "twilio_verify_v2.json", True),
    ("messaging", "twilio_messaging_v1.json", False),
]

# The Messaging v1 paths the mirror emulates; the rest of that document is not read.
MESSAGING_PATHS = [
    "/v1/Services",
    "/v1/Services/{Sid}",
    "/v1/Services/{ServiceSid}/PhoneNumbers",
    "/v1/Services/{ServiceSid}/PhoneNumbers/{Sid}",
]

# Object names that get their product in front (see the module doc).
PREFIXED = {"service", "phone_number"}

FORM = "application/x-www-form-urlencoded"


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
    """An OpenAPI 3.0 schema as the toolkit's subset (see the module doc)."""
    node = resolve(doc, node)
    if "allOf" in node:
        parts = [resolve(doc, p) for p in node["allOf"]]
        typed = [p for p in parts if set(p) - {"description", "example"}]
        if len(typed) != 1:
            raise GenError(f"allOf with {len(typed)} typed parts")
        return convert(doc, typed[0])
    for key in ("oneOf", "anyOf"):
        if key in node:
            return {"anyOf": [convert(doc, alt) for alt in node[key]]}
    kind = node.get("type")
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
            # A free-form object: any keys.
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


def operations(doc, paths=None):
    """(method, path, operation) for every operation, in document order; only
    `paths` when given."""
    for path, item in doc["paths"].items():
        if paths is not None and path not in paths:
            continue
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                yield method.upper(), path, op


def params_schema(doc, method, op):
    """The parameters an operation takes: the query string of a GET or DELETE,
    the form-encoded body of a POST. Path parameters are not among them."""
    query = [resolve(doc, p) for p in op.get("parameters", [])]
    query = [p for p in query if p.get("in") == "query"]
    if method in ("GET", "DELETE"):
        props, required = {}, []
        for p in query:
            props[p["name"]] = convert(doc, p.get("schema", {}))
            if p.get("required"):
                required.append(p["name"])
        out = {"type": "object", "properties": props}
        if required:
            out["required"] = required
        return out
    if query:
        raise GenError(f"{op['operationId']}: a {method} with query parameters")
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return {"type": "object", "properties": {}}
    if FORM not in content:
        raise GenError(f"{op['operationId']}: no {FORM} body ({', '.join(content)})")
    body = resolve(doc, content[FORM]["schema"])
    if body.get("type") != "object" or "additionalProperties" in body:
        raise GenError(f"{op['operationId']}: the body is not an object of named fields")
    out = convert(doc, body)
    out.pop("additionalProperties", None)  # closed, even with no fields
    return out


def object_name(product, schema_name):
    """`api.v2010.account.message` -> `message`; `verify.v2.service` -> `verify_service`."""
    last = schema_name.rsplit(".", 1)[-1]
    return f"{product}_{last}" if last in PREFIXED else last


def ref_name(node):
    ref = node.get("$ref", "") if isinstance(node, dict) else ""
    if not ref.startswith("#/components/schemas/"):
        return None
    return ref[len("#/components/schemas/"):]


def answers(doc, product, op):
    """(returns, items, {object name: schema name}) for an operation: the object
    its 200/201 answer is, or `list` and the object of its one array property
    (`messages`, `media_list`, `services`, …). A 204 answers nothing."""
    named = {}
    for status in ("200", "201"):
        content = op.get("responses", {}).get(status, {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        name = ref_name(schema)
        if name is not None:
            named[status] = ("object", name)
            continue
        props = resolve(doc, schema).get("properties", {})
        arrays = [
            ref_name(p.get("items"))
            for p in props.values()
            if p.get("type") == "array" and ref_name(p.get("items"))
        ]
        if len(arrays) != 1 or not ({"meta", "page_size"} & set(props)):
            raise GenError(f"{op['operationId']}: a {status} answer neither object nor list")
        named[status] = ("list", arrays[0])
    if not named:
        return None, None, {}
    if len(set(named.values())) != 1:
        raise GenError(f"{op['operationId']}: its 200 and 201 answers differ")
    kind, schema_name = next(iter(named.values()))
    obj = object_name(product, schema_name)
    if kind == "list":
        return "list", obj, {obj: schema_name}
    return obj, None, {obj: schema_name}


# ---------------------------------------------------------------------------
# Where the documents lag Twilio. Each patch: function(schema) -> schema, with
# its reason; PATCHES maps operation ids (or LISTS: every emulated list) to them.
# ---------------------------------------------------------------------------

LISTS = "every list"


def _paging(schema):
    # Every Twilio list takes PageSize, Page and PageToken (the SDKs send all
    # three when they follow `next_page_uri`). The 2026 documents already declare
    # them on every list emulated here, so today this adds nothing; older ones
    # left Page and PageToken out.
    props = schema["properties"]
    props.setdefault("PageSize", {"type": "integer"})
    props.setdefault("Page", {"type": "integer"})
    props.setdefault("PageToken", {"type": "string"})
    return schema


PATCHES = {
    LISTS: _paging,
}


def generate(docs, wanted):
    """docs: {product: (document, paths or None)}; wanted: product-prefixed ids."""
    routes, ops, objects = [], {}, {}
    for product, (doc, paths) in docs.items():
        for method, path, op in operations(doc, paths):
            oid = f"{product}/{op['operationId']}"
            routes.append({"id": oid, "method": method, "path": path})
            if oid not in wanted:
                continue
            schema = params_schema(doc, method, op)
            returns, items, named = answers(doc, product, op)
            if returns == "list":
                schema = PATCHES[LISTS](schema)
            if oid in PATCHES:
                schema = PATCHES[oid](schema)
            ops[oid] = {
                "method": method,
                "path": path,
                "returns": returns,
                "items": items,
                "params": schema,
            }
            for name, schema_name in named.items():
                key = (product, schema_name)
                if objects.get(name, (None, key))[1] != key:
                    raise GenError(f"two schemas named {name}: {objects[name][1]} and {key}")
                fields = sorted(resolve(doc, {"$ref": f"#/components/schemas/{schema_name}"})
                                .get("properties", {}))
                objects[name] = ({"fields": fields, "expandable": {}}, key)
    seen = {}
    for r in routes:
        key = (r["method"], r["path"])
        if key in seen:
            raise GenError(f"{r['id']} and {seen[key]} share {key[0]} {key[1]}")
        seen[key] = r["id"]
    return routes, ops, {name: obj for name, (obj, _) in objects.items()}


def carry(prior, product, routes, ops, objects):
    """Adds `product`'s entries of the tables in `prior` (a generated folder)."""
    prefix = f"{product}/"
    old = {n: json.loads((prior / f"{n}.json").read_text()) for n in ("routes", "operations", "objects")}
    routes += [r for r in old["routes"]["routes"] if r["id"].startswith(prefix)]
    for oid, op in old["operations"]["operations"].items():
        if not oid.startswith(prefix):
            continue
        ops[oid] = op
        for name in (op.get("returns"), op.get("items")):
            if name and name != "list":
                objects[name] = old["objects"]["objects"][name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", required=True, help="the folder of Twilio's documents")
    ap.add_argument("--operations", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--carry", help="tables to keep a missing optional document's entries from")
    a = ap.parse_args()
    wanted = [
        line.strip()
        for line in pathlib.Path(a.operations).read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    specs = pathlib.Path(a.specs)
    docs, carried = {}, []
    for product, name, required in DOCUMENTS:
        path = specs / name
        if not path.is_file():
            if required or not a.carry:
                print(f"error: {path} not found", file=sys.stderr)
                return 1
            carried.append(product)
            continue
        paths = set(MESSAGING_PATHS) if product == "messaging" else None
        docs[product] = (json.loads(path.read_text()), paths)
    try:
        routes, ops, objects = generate(docs, set(wanted))
        for product in carried:
            name = next(n for p, n, _ in DOCUMENTS if p == product)
            print(f"    {product}: {name} is not in {specs}; its entries are kept from {a.carry}")
            carry(pathlib.Path(a.carry), product, routes, ops, objects)
        missing = [w for w in wanted if w not in ops]
        if missing:
            raise GenError(f"not in the documents: {', '.join(missing)}")
    except (GenError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = (
        ("routes", {"routes": sorted(routes, key=lambda r: (r["path"], r["method"]))}),
        ("operations", {"api_version": API_VERSION, "operations": ops}),
        ("objects", {"objects": objects}),
    )
    for name, data in tables:
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
        (out / f"{name}.json").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
