//! Stripe's parameter encoding. Requests carry `application/x-www-form-urlencoded`
//! bodies and query strings with bracketed keys (`metadata[plan]=pro`,
//! `expand[]=x`, `preferred_locales[0]=en`, `items[][price]=p`), decoded here into
//! a nested JSON tree the way Stripe (Rack) does. Leaves stay strings; [`Fields`]
//! then reads typed parameters out of the tree and reports what is left over as
//! `parameter_unknown`, with Stripe's messages for every type error.

use serde_json::{Map, Value};

use super::error::StripeError;

/// Deepest bracket nesting accepted; Stripe's own parameters go four levels deep.
const MAX_DEPTH: usize = 16;

/// A parameter as sent: absent, the empty string (Stripe's "unset"), or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param<T> {
    Absent,
    Empty,
    Given(T),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    /// `[]`: append to a list.
    Push,
}

/// Decodes one `application/x-www-form-urlencoded` string into `into`, merging with
/// what is already there (query string first, then body: later values win).
pub fn decode(input: &[u8], into: &mut Map<String, Value>) -> Result<(), StripeError> {
    for (key, value) in form_urlencoded::parse(input) {
        let Some(segs) = split_key(&key) else {
            // Not bracket syntax: the whole key is one (surely unknown) name.
            if !key.is_empty() {
                into.insert(key.into_owned(), Value::String(value.into_owned()));
            }
            continue;
        };
        if segs.len() > MAX_DEPTH {
            return Err(StripeError::invalid(
                format!("Parameters may be nested at most {MAX_DEPTH} levels deep"),
                render(&segs),
            ));
        }
        let Some(Seg::Key(top)) = segs.first() else {
            continue;
        };
        if top.is_empty() {
            continue;
        }
        put_in_map(into, &segs, value.into_owned()).map_err(|()| {
            StripeError::invalid(
                format!("Invalid value for {}: it is given both as a value and as a nested hash or array", render(&segs)),
                render(&segs),
            )
        })?;
    }
    Ok(())
}

/// `a[b][]` → `[Key(a), Key(b), Push]`; `None` when the brackets are malformed.
fn split_key(key: &str) -> Option<Vec<Seg>> {
    let (top, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => return Some(vec![Seg::Key(key.to_string())]),
    };
    let mut segs = vec![Seg::Key(top.to_string())];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let name = &inner[..close];
        if name.contains('[') {
            return None;
        }
        segs.push(if name.is_empty() {
            Seg::Push
        } else {
            Seg::Key(name.to_string())
        });
        rest = &inner[close + 1..];
    }
    Some(segs)
}

/// The bracketed spelling of a parameter path, as Stripe names it in errors.
fn render(segs: &[Seg]) -> String {
    let mut out = String::new();
    for (i, s) in segs.iter().enumerate() {
        match (i, s) {
            (0, Seg::Key(k)) => out.push_str(k),
            (_, Seg::Key(k)) => {
                out.push('[');
                out.push_str(k);
                out.push(']');
            }
            (_, Seg::Push) => out.push_str("[]"),
        }
    }
    out
}

fn put_in_map(map: &mut Map<String, Value>, segs: &[Seg], value: String) -> Result<(), ()> {
    let Some(Seg::Key(k)) = segs.first() else {
        return Err(());
    };
    if segs.len() == 1 {
        return match map.get(k) {
            Some(Value::Object(_) | Value::Array(_)) => Err(()),
            _ => {
                map.insert(k.clone(), Value::String(value));
                Ok(())
            }
        };
    }
    let child = map.entry(k.clone()).or_insert(Value::Null);
    put(child, &segs[1..], value)
}

/// Puts `value` at `segs` below `node` (Rack's `normalize_params`).
fn put(node: &mut Value, segs: &[Seg], value: String) -> Result<(), ()> {
    match segs.first() {
        None => Err(()),
        Some(Seg::Key(_)) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            match node {
                Value::Object(map) => put_in_map(map, segs, value),
                _ => Err(()),
            }
        }
        Some(Seg::Push) => {
            if node.is_null() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(items) = node else {
                return Err(());
            };
            let rest = &segs[1..];
            if rest.is_empty() {
                items.push(Value::String(value));
                return Ok(());
            }
            // `a[][x]=1&a[][y]=2&a[][x]=3` → [{x:1,y:2},{x:3}]: a new element starts
            // when the last one already has this key.
            let reuse = matches!(rest.first(), Some(Seg::Key(_)))
                && items
                    .last()
                    .is_some_and(|last| last.is_object() && !has_path(last, rest));
            if !reuse {
                items.push(Value::Null);
            }
            match items.last_mut() {
                Some(last) => put(last, rest, value),
                None => Err(()),
            }
        }
    }
}

fn has_path(node: &Value, segs: &[Seg]) -> bool {
    match segs.first() {
        None => true,
        Some(Seg::Key(k)) => node.get(k).is_some_and(|child| has_path(child, &segs[1..])),
        Some(Seg::Push) => true,
    }
}

/// Typed access to one level of a parameter tree. Every read removes the key;
/// [`Fields::finish`] reports the first key nobody read as unknown.
#[derive(Debug, Default)]
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

impl Fields {
    pub fn new(map: Map<String, Value>) -> Self {
        Fields {
            map,
            prefix: String::new(),
        }
    }

    /// A nested level, named `prefix` in error messages (`address`, `shipping[address]`).
    fn nested(map: Map<String, Value>, prefix: String) -> Self {
        Fields { map, prefix }
    }

    /// The full bracketed name of `key` at this level.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    /// Removes and returns a raw value.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }

    /// Everything left at this level, in key order (for free-form maps like metadata).
    pub fn drain(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.map).into_iter().collect()
    }

    /// A string of at most `max` characters.
    pub fn string(&mut self, key: &str, max: usize) -> Result<Param<String>, StripeError> {
        let path = self.path(key);
        match self.map.remove(key) {
            None => Ok(Param::Absent),
            Some(v) => string_value(v, &path, max),
        }
    }

    pub fn integer(&mut self, key: &str) -> Result<Param<i64>, StripeError> {
        let path = self.path(key);
        match self.map.remove(key) {
            None => Ok(Param::Absent),
            Some(v) => integer_value(v, &path),
        }
    }

    /// A nested hash (`address[line1]=…`); `""` is [`Param::Empty`].
    pub fn hash(&mut self, key: &str) -> Result<Param<Fields>, StripeError> {
        let path = self.path(key);
        match self.map.remove(key) {
            None => Ok(Param::Absent),
            Some(Value::Null) => Ok(Param::Empty),
            Some(Value::String(s)) if s.is_empty() => Ok(Param::Empty),
            Some(Value::Object(map)) => Ok(Param::Given(Fields::nested(map, path))),
            Some(_) => Err(StripeError::invalid("Invalid hash", path)),
        }
    }

    /// A list, sent as `k[]=…` or `k[0]=…&k[1]=…`; items come with their names.
    pub fn list(&mut self, key: &str) -> Result<Param<Vec<(String, Value)>>, StripeError> {
        let path = self.path(key);
        match self.map.remove(key) {
            None => Ok(Param::Absent),
            Some(v) => list_value(v, &path),
        }
    }

    /// A list of strings of at most `max` characters each.
    pub fn string_list(
        &mut self,
        key: &str,
        max: usize,
    ) -> Result<Param<Vec<String>>, StripeError> {
        let items = match self.list(key)? {
            Param::Absent => return Ok(Param::Absent),
            Param::Empty => return Ok(Param::Empty),
            Param::Given(items) => items,
        };
        let mut out = Vec::with_capacity(items.len());
        for (path, v) in items {
            match string_value(v, &path, max)? {
                Param::Given(s) => out.push(s),
                _ => return Err(StripeError::invalid_empty(&path)),
            }
        }
        Ok(Param::Given(out))
    }

    /// Fails with `parameter_unknown` if any key was not read.
    pub fn finish(self) -> Result<(), StripeError> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((key, _)) => {
                let path = if self.prefix.is_empty() {
                    key
                } else {
                    format!("{}[{key}]", self.prefix)
                };
                Err(StripeError::unknown_parameter(&path))
            }
        }
    }
}

/// Reads a string leaf. Seed documents are JSON, so numbers and booleans are
/// accepted as their text; `null` and `""` mean "unset".
pub fn string_value(v: Value, path: &str, max: usize) -> Result<Param<String>, StripeError> {
    let s = match v {
        Value::Null => return Ok(Param::Empty),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(StripeError::invalid(
                format!("Invalid string: {other}"),
                path,
            ))
        }
    };
    if s.is_empty() {
        return Ok(Param::Empty);
    }
    if s.chars().count() > max {
        let shown: String = s.chars().take(20).collect();
        return Err(StripeError::invalid(
            format!("Invalid string: {shown}...; must be at most {max} characters"),
            path,
        ));
    }
    Ok(Param::Given(s))
}

pub fn integer_value(v: Value, path: &str) -> Result<Param<i64>, StripeError> {
    match v {
        Value::Null => Ok(Param::Empty),
        Value::String(s) if s.is_empty() => Ok(Param::Empty),
        Value::String(s) => s
            .parse::<i64>()
            .map(Param::Given)
            .map_err(|_| StripeError::invalid_integer(path, &s)),
        Value::Number(n) => n
            .as_i64()
            .map(Param::Given)
            .ok_or_else(|| StripeError::invalid_integer(path, &n.to_string())),
        other => Err(StripeError::invalid_integer(path, &other.to_string())),
    }
}

fn list_value(v: Value, path: &str) -> Result<Param<Vec<(String, Value)>>, StripeError> {
    match v {
        Value::Null => Ok(Param::Empty),
        Value::String(s) if s.is_empty() => Ok(Param::Empty),
        Value::Array(items) => Ok(Param::Given(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
        )),
        // `k[0]=a&k[1]=b`: a hash whose keys are all indices is a list in index order.
        Value::Object(map) => {
            let mut indexed = Vec::with_capacity(map.len());
            for (k, v) in map {
                let Ok(i) = k.parse::<u64>() else {
                    return Err(StripeError::invalid("Invalid array", path));
                };
                indexed.push((i, format!("{path}[{k}]"), v));
            }
            indexed.sort_by_key(|(i, _, _)| *i);
            Ok(Param::Given(
                indexed.into_iter().map(|(_, p, v)| (p, v)).collect(),
            ))
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Err(StripeError::invalid("Invalid array", path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Value {
        let mut m = Map::new();
        match decode(s.as_bytes(), &mut m) {
            Ok(()) => Value::Object(m),
            Err(e) => json!({ "error": e.to_string() }),
        }
    }

    #[test]
    fn brackets_become_nested_hashes_and_lists() {
        assert_eq!(
            parse("email=a%40b.co&metadata[plan]=pro&metadata[n]=1&address[line1]=1+Main+St&expand[]=x&expand[]=y"),
            json!({
                "email": "a@b.co",
                "metadata": {"plan": "pro", "n": "1"},
                "address": {"line1": "1 Main St"},
                "expand": ["x", "y"],
            })
        );
        assert_eq!(
            parse("preferred_locales[0]=en&preferred_locales[1]=fr"),
            json!({"preferred_locales": {"0": "en", "1": "fr"}})
        );
        assert_eq!(parse("metadata%5Bk%5D=v"), json!({"metadata": {"k": "v"}}));
    }

    #[test]
    fn pushed_hashes_start_a_new_element_when_a_key_repeats() {
        assert_eq!(
            parse("f[][name]=a&f[][value]=1&f[][name]=b&f[][value]=2"),
            json!({"f": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]})
        );
    }

    #[test]
    fn conflicting_shapes_and_malformed_keys_are_reported_not_panicked() {
        assert!(parse("a=1&a[b]=2")["error"].is_string());
        assert!(parse("a[b]=2&a=1")["error"].is_string());
        assert!(parse("a[]=1&a[b]=2")["error"].is_string());
        assert_eq!(parse("a[b=1"), json!({"a[b": "1"}));
        assert_eq!(parse("=1&[x]=2&&"), json!({}));
        let deep = format!("a{}=1", "[x]".repeat(40));
        assert!(parse(&deep)["error"].is_string());
    }

    #[test]
    fn indexed_hashes_read_as_lists_in_index_order() {
        let mut f = Fields::new(
            parse("l[10]=c&l[2]=b&l[0]=a")
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            f.string_list("l", 10).ok(),
            Some(Param::Given(vec!["a".into(), "b".into(), "c".into()]))
        );
        let mut f = Fields::new(parse("l[x]=a").as_object().cloned().unwrap_or_default());
        assert!(f.string_list("l", 10).is_err());
    }

    #[test]
    fn leftover_keys_are_unknown_parameters() {
        let mut f = Fields::new(
            parse("email=x&foo=1")
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert!(f.string("email", 10).is_ok());
        let err = f.finish().err().map(|e| e.body());
        assert_eq!(
            err.as_ref().and_then(|b| b["error"]["param"].as_str()),
            Some("foo")
        );
        assert_eq!(
            err.as_ref().and_then(|b| b["error"]["code"].as_str()),
            Some("parameter_unknown")
        );
    }
}
