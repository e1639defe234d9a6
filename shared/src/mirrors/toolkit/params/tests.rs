//! The validator on schemas shaped like the generated ones.

use super::*;
use serde_json::json;
use serde_json::Value;

fn schema(v: Value) -> Schema {
    serde_json::from_value(v).expect("schema")
}

fn form(input: Value, s: &Schema) -> Result<Value, ParamError> {
    validate(&input, s, Encoding::Form)
}

fn params() -> Schema {
    schema(json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["amount"],
        "properties": {
            "amount": {"type": "integer"},
            "confirm": {"type": "boolean"},
            "rate": {"type": "number"},
            "unit_amount_decimal": {"type": "number", "format": "decimal"},
            "description": {"type": "string", "maxLength": 10},
            "mode": {"type": "string", "enum": ["a", "b", "c"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "metadata": {"anyOf": [
                {"type": "object", "additionalProperties": {"type": "string"}},
                {"type": "string", "enum": [""]}
            ]},
            "created": {"anyOf": [
                {"type": "object", "additionalProperties": false, "properties": {"gt": {"type": "integer"}}},
                {"type": "integer"}
            ]},
            "off_session": {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["one_off"]}]},
            "items": {"type": "array", "items": {
                "type": "object", "additionalProperties": false, "required": ["price"],
                "properties": {"price": {"type": "string"}, "quantity": {"type": "integer"}}
            }}
        }
    }))
}

/// Form leaves are coerced to the schema's types.
#[test]
fn form_leaves_become_typed_values() {
    let out = form(
        json!({"amount": "12", "confirm": "true", "rate": "1.5", "unit_amount_decimal": "0.000000000001",
               "tags": ["x"], "created": {"gt": "5"}, "off_session": "one_off"}),
        &params(),
    );
    assert_eq!(
        out,
        Ok(
            json!({"amount": 12, "confirm": true, "rate": 1.5, "unit_amount_decimal": "0.000000000001",
                  "tags": ["x"], "created": {"gt": 5}, "off_session": "one_off"})
        )
    );
    assert_eq!(
        form(
            json!({"amount": "-3", "created": "7", "off_session": "false"}),
            &params()
        ),
        Ok(json!({"amount": -3, "created": 7, "off_session": false}))
    );
}

/// `k[0]=…` hashes are arrays, in index order, and errors name the index sent.
#[test]
fn index_hashes_are_arrays_and_errors_keep_the_index() {
    let input = json!({"amount": "1", "items": {"1": {"price": "p2"}, "0": {"price": "p1", "quantity": "2"}}});
    assert_eq!(
        form(input, &params()),
        Ok(json!({"amount": 1, "items": [{"price": "p1", "quantity": 2}, {"price": "p2"}]}))
    );
    let input = json!({"amount": "1", "items": {"0": {"price": "p1"}, "3": {"quantity": "x"}}});
    assert_eq!(
        form(input, &params()),
        Err(ParamError::Missing {
            param: "items[3][price]".into()
        })
    );
    let input = json!({"amount": "1", "items": [{"price": "p", "colour": "red"}]});
    assert_eq!(
        form(input, &params()),
        Err(ParamError::Unknown {
            param: "items[0][colour]".into()
        })
    );
    let input = json!({"amount": "1", "items": {"a": {"price": "p"}}});
    assert_eq!(
        form(input, &params()),
        Err(ParamError::ExpectedArray {
            param: "items".into()
        })
    );
}

/// Each kind of mistake is reported with its parameter and what was wrong.
#[test]
fn mistakes_are_named_precisely() {
    let cases = [
        (
            json!({"amount": "1", "nope": "x"}),
            ParamError::Unknown {
                param: "nope".into(),
            },
        ),
        (
            json!({}),
            ParamError::Missing {
                param: "amount".into(),
            },
        ),
        (
            json!({"amount": "1.5"}),
            ParamError::InvalidInteger {
                param: "amount".into(),
                value: "1.5".into(),
            },
        ),
        (
            json!({"amount": {"a": "b"}}),
            ParamError::InvalidInteger {
                param: "amount".into(),
                value: "{\"a\":\"b\"}".into(),
            },
        ),
        (
            json!({"amount": "1", "rate": "x"}),
            ParamError::InvalidNumber {
                param: "rate".into(),
                value: "x".into(),
                decimal: false,
            },
        ),
        (
            json!({"amount": "1", "rate": "NaN"}),
            ParamError::InvalidNumber {
                param: "rate".into(),
                value: "NaN".into(),
                decimal: false,
            },
        ),
        (
            json!({"amount": "1", "confirm": "yes"}),
            ParamError::InvalidBoolean {
                param: "confirm".into(),
                value: "yes".into(),
            },
        ),
        (
            json!({"amount": "1", "mode": "d"}),
            ParamError::NotInEnum {
                param: "mode".into(),
                value: "d".into(),
                allowed: vec!["a".into(), "b".into(), "c".into()],
            },
        ),
        (
            json!({"amount": "1", "description": "x".repeat(11)}),
            ParamError::TooLong {
                param: "description".into(),
                value: "x".repeat(11),
                max: 10,
            },
        ),
        (
            json!({"amount": "1", "created": {"gt": "1", "lt": "2"}}),
            ParamError::Unknown {
                param: "created[lt]".into(),
            },
        ),
        (
            json!({"amount": "1", "metadata": "x"}),
            ParamError::ExpectedObject {
                param: "metadata".into(),
            },
        ),
        (
            json!({"amount": "1", "tags": "x"}),
            ParamError::ExpectedArray {
                param: "tags".into(),
            },
        ),
        (
            json!({"amount": "1", "description": {"a": "b"}}),
            ParamError::ExpectedString {
                param: "description".into(),
                value: "{\"a\":\"b\"}".into(),
            },
        ),
        (
            json!({"amount": "1", "off_session": "maybe"}),
            ParamError::InvalidBoolean {
                param: "off_session".into(),
                value: "maybe".into(),
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(form(input.clone(), &params()), Err(want), "{input}");
    }
}

/// `""` unsets what may be unset and is refused elsewhere.
#[test]
fn empty_strings_unset_only_where_allowed() {
    assert_eq!(
        form(
            json!({"amount": "1", "metadata": "", "description": ""}),
            &params()
        ),
        Ok(json!({"amount": 1, "metadata": null, "description": null}))
    );
    assert_eq!(
        form(json!({"amount": "1", "metadata": {"plan": ""}}), &params()),
        Ok(json!({"amount": 1, "metadata": {"plan": null}}))
    );
    for (input, param) in [
        (json!({"amount": ""}), "amount"),
        (json!({"amount": "1", "mode": ""}), "mode"),
        (json!({"amount": "1", "created": ""}), "created"),
        (json!({"amount": "1", "tags": ""}), "tags"),
        (json!({"amount": "1", "tags": ["a", ""]}), "tags[1]"),
        (json!({"amount": "1", "confirm": ""}), "confirm"),
    ] {
        assert_eq!(
            form(input.clone(), &params()),
            Err(ParamError::Empty {
                param: param.into()
            }),
            "{input}"
        );
    }
}

/// JSON bodies are checked strictly: no coercion, `""` is just a string.
#[test]
fn json_inputs_are_not_coerced() {
    let s = params();
    assert_eq!(
        validate(&json!({"amount": 5, "confirm": true}), &s, Encoding::Json),
        Ok(json!({"amount": 5, "confirm": true}))
    );
    assert_eq!(
        validate(&json!({"amount": "5"}), &s, Encoding::Json),
        Err(ParamError::InvalidInteger {
            param: "amount".into(),
            value: "5".into()
        })
    );
    assert_eq!(
        validate(&json!({"amount": 5, "confirm": "true"}), &s, Encoding::Json),
        Err(ParamError::InvalidBoolean {
            param: "confirm".into(),
            value: "true".into()
        })
    );
    assert_eq!(
        validate(&json!({"amount": 5, "description": 3}), &s, Encoding::Json),
        Err(ParamError::ExpectedString {
            param: "description".into(),
            value: "3".into()
        })
    );
    assert_eq!(
        validate(&json!({"amount": 5, "description": ""}), &s, Encoding::Json),
        Ok(json!({"amount": 5, "description": ""}))
    );
    assert_eq!(
        validate(
            &json!({"amount": 5, "items": {"0": {"price": "p"}}}),
            &s,
            Encoding::Json
        ),
        Err(ParamError::ExpectedArray {
            param: "items".into()
        })
    );
}

/// Bad schema JSON is refused when the table is parsed, not at request time.
#[test]
fn malformed_schemas_do_not_parse() {
    for bad in [
        json!({"type": "array"}),
        json!({"type": "object", "required": ["x"]}),
        json!({"type": "string", "maxLenght": 3}),
        json!({"type": "tuple"}),
    ] {
        assert!(
            serde_json::from_value::<Schema>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

/// Concrete paths find their route; literal segments beat placeholders.
#[test]
fn routes_match_concrete_paths() {
    let routes = json!({"routes": [
        {"id": "GetThingsThing", "method": "GET", "path": "/v1/things/{thing}"},
        {"id": "GetThingsSearch", "method": "GET", "path": "/v1/things/search"},
        {"id": "PostThingsThingPoke", "method": "POST", "path": "/v1/things/{thing}/poke"},
    ]})
    .to_string();
    let t = OperationTable::from_json(
        r#"{"api_version":"v","operations":{}}"#,
        &routes,
        r#"{"objects":{}}"#,
    )
    .expect("tables");
    let id = |m: &str, p: &str| t.route(m, p).map(|r| r.id.as_str());
    assert_eq!(id("GET", "/v1/things/search"), Some("GetThingsSearch"));
    assert_eq!(id("GET", "/v1/things/th_1"), Some("GetThingsThing"));
    assert_eq!(
        id("post", "/v1/things/th_1/poke"),
        Some("PostThingsThingPoke")
    );
    assert_eq!(id("GET", "/v1/things/th_1/poke"), None);
    assert_eq!(id("GET", "/v1/things//"), None);
    assert_eq!(id("GET", "/v1/things"), None);
}
