//! Generated requests for every operation in the Stripe mirror's route table
//! (invariant 4: bad input never produces a 500). For each operation, proptest
//! builds parameter sets from its generated schema — valid ones, and the same
//! with one thing wrong: a mistyped value, an unknown key, a required key
//! missing, a value outside its enum, a string over its length, huge numbers,
//! unicode, odd brackets — and path ids that exist or do not. Every answer must
//! be a 200 in the pinned version's shape (`generated/shapes.json`) or a
//! Stripe-shaped 4xx (`{"error": {"type", "message", …}}`).
//!
//! Bounded: `MIRRA_PROPTEST_CASES` cases per operation (default 64; with the
//! 12 operations of today about 800 requests, a few seconds; 45 operations stay
//! well under a minute in a debug build). The run's seed is printed; a failure
//! names it, and `MIRRA_PROPTEST_SEED=<seed>` replays the same requests.

mod support;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use shared::mirrors::toolkit::params::{Schema, StringSchema};
use shared::session::CreateSession;
use support::requests::{self, bases, encode, hint, operations, Op, World};
use support::shapes::check_answer;
use support::stripe::{Mirror, Ses};

const DEFAULT_CASES: u32 = 64;

/// One generated request: the ids for the path and the raw form (query string
/// or body), which may not even be valid form encoding.
#[derive(Debug, Clone)]
struct Req {
    ids: Vec<String>,
    form: String,
    /// What was done to the valid parameters, for the failure report.
    mutation: String,
}

// ---------------------------------------------------------------- valid values

/// Strings a parameter might plausibly hold, and some it should not.
fn text(max: Option<usize>) -> BoxedStrategy<Value> {
    prop_oneof![
        3 => select(vec!["mirra", "ada@example.com", "usd", "pm_card_visa", "tok_visa", "cus_x", "4242"])
            .prop_map(str::to_string),
        3 => "[a-z0-9_]{1,12}",
        1 => "\\PC{1,12}",
    ]
    .prop_map(move |s: String| json!(s.chars().take(max.unwrap_or(usize::MAX)).collect::<String>()))
    .boxed()
}

/// The bracket path of `key` below `path` (`shipping` + `name` → `shipping[name]`).
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}[{key}]")
    }
}

/// A value the schema allows; `path` is its bracket path (`shipping[name]`).
fn valid(path: &str, schema: &Schema, world: &World, depth: usize) -> BoxedStrategy<Value> {
    let leaf = path
        .rsplit('[')
        .next()
        .unwrap_or(path)
        .trim_end_matches(']')
        .to_string();
    let generic = match schema {
        Schema::String(StringSchema {
            values: Some(v), ..
        }) => {
            let v: Vec<String> = v.iter().filter(|x| !x.is_empty()).cloned().collect();
            if v.is_empty() {
                Just(json!("")).boxed()
            } else {
                select(v).prop_map(Value::String).boxed()
            }
        }
        Schema::String(s) => text(s.max_length),
        Schema::Integer => prop_oneof![3 => 0i64..5000, 1 => any::<i64>()]
            .prop_map(|n| json!(n))
            .boxed(),
        Schema::Number { decimal } => {
            let decimal = *decimal;
            (0.0f64..10_000.0)
                .prop_map(move |x| {
                    if decimal {
                        json!(format!("{x:.3}"))
                    } else {
                        json!(x)
                    }
                })
                .boxed()
        }
        Schema::Boolean => any::<bool>().prop_map(Value::Bool).boxed(),
        Schema::Array(items) if depth < 4 => {
            proptest::collection::vec(valid(&child(path, "0"), items, world, depth + 1), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Schema::Object(o) if depth < 4 => {
            let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
            for (name, sub) in &o.properties {
                let name2 = name.clone();
                let s = valid(&child(path, name), sub, world, depth + 1)
                    .prop_map(move |v| (name2.clone(), v));
                fields.push(if o.required.contains(name) {
                    s.prop_map(Some).boxed()
                } else {
                    // Few optional keys at a time, deeper ones rarely.
                    proptest::option::weighted(if depth == 0 { 0.08 } else { 0.1 }, s).boxed()
                });
            }
            let extra = match &o.additional {
                Some(a) => proptest::collection::btree_map(
                    "[a-z_]{1,8}",
                    valid(&child(path, "k"), a, world, depth + 1),
                    0..3,
                )
                .boxed(),
                None => Just(BTreeMap::new()).boxed(),
            };
            (fields, extra)
                .prop_map(|(fields, extra)| {
                    let mut m: Map<String, Value> = extra.into_iter().collect();
                    m.extend(fields.into_iter().flatten());
                    Value::Object(m)
                })
                .boxed()
        }
        Schema::AnyOf(alts) => {
            let mut opts: Vec<BoxedStrategy<Value>> = alts
                .iter()
                .filter(|a| !a.allows_empty() || matches!(a, Schema::String(StringSchema { values: Some(v), .. }) if v.len() > 1))
                .map(|a| valid(path, a, world, depth))
                .collect();
            if schema.allows_empty() {
                opts.push(Just(Value::Null).boxed());
            }
            if opts.is_empty() {
                Just(Value::Null).boxed()
            } else {
                proptest::strategy::Union::new(opts).boxed()
            }
        }
        _ => text(None),
    };
    // Names a schema cannot explain (an existing customer's id, a currency …).
    match hint(path, &leaf, schema, world) {
        Some(v) => prop_oneof![3 => Just(v), 1 => generic].boxed(),
        None => generic,
    }
}

// ---------------------------------------------------------------- mutations

/// One thing wrong with a valid parameter set, by the top-level key it hits.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    WrongType(usize),
    UnknownKey(String),
    UnknownNestedKey(usize),
    DropRequired(usize),
    OutOfEnum(usize),
    TooLong(usize),
    Huge(usize, &'static str),
    Unicode(usize, String),
    Raw(String),
    Expand(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let raw = prop_oneof![
        select(vec![
            "a[",
            "a]",
            "[]=1",
            "metadata[=x",
            "metadata]]=1",
            "expand[][]=x",
            "x[0][=1",
            "%5B%5D=1",
            "%zz=1",
            "=",
            "&&&",
            "metadata[k]=v&metadata=v",
            "limit[]=1",
            "a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r]=1",
            "created[gt]=x",
            "a[0]=1&a[x]=2",
            "expand=",
            "metadata[]=1",
            "+=+",
            "%00=%00",
        ])
        .prop_map(str::to_string),
        "[a-z\\[\\]=&%0-9]{1,24}",
    ];
    prop_oneof![
        6 => Just(Mutation::None),
        2 => any::<usize>().prop_map(Mutation::WrongType),
        1 => "zz_[a-z]{1,8}".prop_map(Mutation::UnknownKey),
        1 => any::<usize>().prop_map(Mutation::UnknownNestedKey),
        1 => any::<usize>().prop_map(Mutation::DropRequired),
        1 => any::<usize>().prop_map(Mutation::OutOfEnum),
        1 => any::<usize>().prop_map(Mutation::TooLong),
        1 => (any::<usize>(), select(vec![
            "99999999999999999999999", "-9223372036854775809", "1e400", "-0", "0x10", "1.5", "NaN",
        ])).prop_map(|(i, n)| Mutation::Huge(i, n)),
        1 => (any::<usize>(), prop_oneof![
            "\\PC{1,20}".boxed(),
            select(vec!["\u{0}", "\u{202e}abc", "😀😀", "é", "\u{fffd}", "a\u{0}b"]).prop_map(str::to_string).boxed(),
        ]).prop_map(|(i, s)| Mutation::Unicode(i, s)),
        2 => raw.prop_map(Mutation::Raw),
        1 => "[a-z_.]{0,30}".prop_map(Mutation::Expand),
    ]
}

/// A value of another kind than `schema` takes.
fn wrong_kind(schema: &Schema) -> Value {
    match schema {
        Schema::Object(_) | Schema::Array(_) => json!("scalar"),
        Schema::Integer | Schema::Number { .. } => json!("abc"),
        Schema::Boolean => json!("maybe"),
        Schema::AnyOf(alts) if alts.iter().any(|a| matches!(a, Schema::Object(_))) => {
            json!([["x"]])
        }
        _ => json!({"nested": "x"}),
    }
}

fn apply(op: &Op, mut params: Map<String, Value>, m: &Mutation) -> String {
    let props = op.properties();
    let names: Vec<&String> = props.keys().collect();
    let pick = |i: usize| (!names.is_empty()).then(|| names[i % names.len()].clone());
    let mut raw = String::new();
    match m {
        Mutation::None => {}
        Mutation::WrongType(i) => {
            if let Some(k) = pick(*i) {
                params.insert(k.clone(), wrong_kind(&props[&k]));
            }
        }
        Mutation::UnknownKey(k) => {
            params.insert(k.clone(), json!("1"));
        }
        Mutation::UnknownNestedKey(i) => {
            if let Some(k) = pick(*i) {
                params.insert(k, json!({"zz_unknown": "1"}));
            }
        }
        Mutation::DropRequired(i) => {
            let req = op.required();
            if !req.is_empty() {
                params.shift_remove(&req[i % req.len()]);
            }
        }
        Mutation::OutOfEnum(i) => {
            let enums: Vec<&String> = names
                .iter()
                .copied()
                .filter(|k| {
                    matches!(
                        &props[*k],
                        Schema::String(StringSchema {
                            values: Some(_),
                            ..
                        })
                    )
                })
                .collect();
            if !enums.is_empty() {
                params.insert(enums[i % enums.len()].clone(), json!("not_a_value"));
            }
        }
        Mutation::TooLong(i) => {
            if let Some(k) = pick(*i) {
                let max = match &props[&k] {
                    Schema::String(s) => s.max_length.unwrap_or(5000),
                    _ => 5000,
                };
                params.insert(k, json!("x".repeat(max + 1)));
            }
        }
        Mutation::Huge(i, n) => {
            if let Some(k) = pick(*i) {
                params.insert(k, json!(n));
            }
        }
        Mutation::Unicode(i, s) => {
            if let Some(k) = pick(*i) {
                params.insert(k, json!(s));
            }
        }
        Mutation::Raw(r) => raw = r.clone(),
        Mutation::Expand(p) => {
            params.insert("expand".into(), json!([p]));
        }
    }
    let mut form = encode(&params);
    if !raw.is_empty() {
        if !form.is_empty() {
            form.push('&');
        }
        form.push_str(&raw);
    }
    form
}

// ---------------------------------------------------------------- requests

fn path_id(world: &World, kind: Option<&str>) -> BoxedStrategy<String> {
    let random = prop_oneof![
        "[a-z]{2,4}_[A-Za-z0-9]{0,24}",
        "\\PC{1,12}",
        select(vec![
            "..",
            "%",
            "x y",
            "search",
            "-1",
            "cus_",
            "a/b",
            "x".repeat(300).leak() as &str
        ])
        .prop_map(str::to_string),
    ];
    let existing = kind.map(|k| world.candidates(k)).unwrap_or_default();
    if existing.is_empty() {
        random.boxed()
    } else {
        prop_oneof![3 => select(existing), 1 => random].boxed()
    }
}

fn request(op: &Op, world: &World) -> BoxedStrategy<Req> {
    let ids: Vec<BoxedStrategy<String>> = op
        .path_params
        .iter()
        .map(|(_, kind)| path_id(world, kind.as_deref()))
        .collect();
    // Half the time the hinted parameters fill in what the random ones leave
    // out (`type=card` goes with `card[token]`), so valid requests get through.
    let fills: Vec<Map<String, Value>> = bases(op, world).into_iter().map(|b| b.1).collect();
    let op2 = op.clone();
    (
        ids,
        valid("", op.schema, world, 0),
        mutation(),
        select(fills),
        any::<bool>(),
    )
        .prop_map(move |(ids, params, m, fill, use_fill)| {
            let mut params = params.as_object().cloned().unwrap_or_default();
            if use_fill {
                for (k, v) in fill {
                    params.entry(k).or_insert(v);
                }
            }
            Req {
                form: apply(&op2, params, &m),
                mutation: format!("{m:?}"),
                ids,
            }
        })
        .boxed()
}

/// 32 seed bytes for `op` from the run's seed (splitmix64 over both).
fn seed_bytes(seed: u64, op: &str) -> [u8; 32] {
    let mut x = seed
        ^ op.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Objects for path ids and reference parameters: every operation without path
/// parameters, run once with its schema's valid parameters.
async fn populate(mirror: &Mirror, ses: &Ses, ops: &[Op]) -> World {
    let mut world = World::default();
    let mut order: Vec<&Op> = ops.iter().filter(|o| !o.has_path_params()).collect();
    order.sort_by_key(|o| o.method == axum::http::Method::GET);
    for op in order {
        for (_, params) in bases(op, &world) {
            let (target, body) = requests::request(op, &op.path(&[]), &encode(&params));
            let r = mirror
                .call(ses, op.method.clone(), &target, body.as_deref())
                .await;
            if r.status == StatusCode::OK {
                world.record(&r.json);
            }
        }
    }
    world
}

/// Invariant 4 for every emulated operation: generated valid and broken
/// requests get a 200 in the pinned shape or a Stripe-shaped 4xx, never a 5xx.
#[test]
fn generated_requests_get_pinned_shapes_or_stripe_4xx_never_5xx() {
    let seed = env_u64("MIRRA_PROPTEST_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let cases = env_u64("MIRRA_PROPTEST_CASES").map_or(DEFAULT_CASES, |n| n as u32);
    eprintln!("generated requests: seed {seed}, {cases} cases per operation (MIRRA_PROPTEST_SEED / MIRRA_PROPTEST_CASES)");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mirror = Mirror::new();
    let ses = rt.block_on(mirror.session_with(CreateSession {
        rate_limit: Some(1_000_000),
        ..CreateSession::default()
    }));
    // Deletions last, so the others find the objects they name.
    let mut ops = operations();
    ops.sort_by_key(|o| o.method == axum::http::Method::DELETE);
    let world = rt.block_on(populate(&mirror, &ses, &ops));

    let mut failures = Vec::new();
    let started = std::time::Instant::now();
    eprintln!("operation: 200 answers / 4xx answers (shrinking included)");
    for op in &ops {
        let tally = std::cell::Cell::new((0u32, 0u32));
        let config = Config {
            cases,
            max_shrink_iters: 200,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed, op.id));
        let mut runner = TestRunner::new_with_rng(config, rng);
        let outcome = runner.run(&request(op, &world), |req| {
            let refs: Vec<&str> = req.ids.iter().map(String::as_str).collect();
            let (target, body) = requests::request(op, &op.path(&refs), &req.form);
            let r = rt.block_on(mirror.call(&ses, op.method.clone(), &target, body.as_deref()));
            let (ok, refused) = tally.get();
            tally.set(if r.status == StatusCode::OK {
                (ok + 1, refused)
            } else {
                (ok, refused + 1)
            });
            if r.status.is_server_error() {
                return Err(TestCaseError::fail(format!(
                    "{} {target}: {} {}",
                    op.method, r.status, r.json
                )));
            }
            check_answer(op.id, r.status, &r.json).map_err(TestCaseError::fail)
        });
        let (ok, refused) = tally.get();
        eprintln!("  {:<45} {ok:>5} / {refused}", op.id);
        match outcome {
            Ok(()) => {}
            Err(TestError::Fail(why, req)) => failures.push(format!(
                "{} {}: {why}\n  minimal request: ids {:?}, form {:?} ({})",
                op.id, op.template, req.ids, req.form, req.mutation
            )),
            Err(e) => failures.push(format!("{}: {e}", op.id)),
        }
    }
    eprintln!(
        "generated requests: {} operations × {cases} cases in {:.1?}",
        ops.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "seed {seed} (replay: MIRRA_PROPTEST_SEED={seed} cargo test -p mirra-shared --test \
         stripe_generated_requests):\n\n{}",
        failures.join("\n\n")
    );
}
