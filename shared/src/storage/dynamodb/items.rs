//! Keys, item codecs and expression placeholders of the DynamoDB table
//! (item layout in `mod.rs`).

use super::*;

// ------------------------------------------------------------ keys and items

/// Escapes `\` and `#` so parts joined with `#` split back one way only.
pub(super) fn esc(part: &str) -> String {
    part.replace('\\', "\\\\").replace('#', "\\#")
}

pub(super) fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk)),
    ])
}

pub(super) fn row_key(id: &str) -> Item {
    key(format!("S#{id}"), ROW_SK.to_owned())
}

pub(super) fn credential_key(credential: &CredentialKey) -> Item {
    key(
        format!("C#{}", credential.as_str()),
        CREDENTIAL_SK.to_owned(),
    )
}

pub(super) fn credential_item(
    credential: &CredentialKey,
    id: &str,
    inc: &str,
    ttl: Option<i64>,
) -> Item {
    let mut item = credential_key(credential);
    item.insert(ID.into(), s(id));
    item.insert(INC.into(), s(inc));
    if let Some(ttl) = ttl {
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(ttl.to_string()));
    }
    item
}

pub(super) fn ws_pk(workspace: &str) -> String {
    format!("W#{workspace}")
}

pub(super) fn member_key(workspace: &str, id: &str) -> Item {
    key(ws_pk(workspace), format!("S#{id}"))
}

pub(super) fn member_item(workspace: &str, id: &str) -> Item {
    let mut item = member_key(workspace, id);
    item.insert(ID.into(), s(id));
    item
}

pub(super) fn name_key(workspace: &str, name: &str) -> Item {
    key(ws_pk(workspace), format!("N#{name}"))
}

pub(super) fn usage_key(workspace: &str, period: &str, mode: &str) -> Item {
    key(ws_pk(workspace), format!("U#{}#{}", esc(period), esc(mode)))
}

pub(super) fn log_pk(session: &str, incarnation: &str) -> String {
    format!("L#{}#{}", esc(session), esc(incarnation))
}

pub(super) fn log_sk(mirror: &str, seq: u64) -> String {
    format!("{}#{seq:0width$}", esc(mirror), width = SEQ_DIGITS)
}

pub(super) fn cp_seq_attr(mirror: &str) -> String {
    format!("cps:{mirror}")
}

pub(super) fn cp_object_attr(mirror: &str) -> String {
    format!("cpo:{mirror}")
}

pub(super) fn log_name(key: &LogKey) -> String {
    format!("log {}/{}/{}", key.session, key.incarnation, key.mirror)
}

pub(super) fn row_gone(key: &LogKey) -> StorageError {
    StorageError::NotFound(format!(
        "session {} incarnation {}",
        key.session, key.incarnation
    ))
}

pub(super) fn name_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub(super) fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// The TTL of a row expiring at `exp`: never before DynamoDB's epoch start.
pub fn ttl_for(exp: i64) -> i64 {
    exp.saturating_add(TTL_GRACE_SECS).max(0)
}

pub(super) fn row_item(row: &SessionRow) -> Item {
    let mut item = row_key(&row.id);
    item.insert(ID.into(), s(&row.id));
    item.insert(INC.into(), s(&row.incarnation));
    item.insert(WS.into(), s(&row.workspace));
    if let Some(n) = &row.name {
        item.insert(NAME.into(), s(n));
    }
    if let Some(exp) = row.expires_at {
        item.insert(EXP.into(), AttributeValue::N(exp.to_string()));
        item.insert(EXP_SHARD.into(), super::expiry::exp_shard(&row.id));
        item.insert(
            TTL_ATTRIBUTE.into(),
            AttributeValue::N(ttl_for(exp).to_string()),
        );
    }
    item.insert(BODY.into(), s(&row.body));
    if !row.credentials.is_empty() {
        let digests = row.credentials.iter().map(|c| c.as_str().to_owned());
        item.insert(CREDS.into(), AttributeValue::Ss(digests.collect()));
    }
    item
}

pub(super) fn row_projection(e: &mut Expr) -> String {
    [ID, INC, WS, NAME, EXP, BODY, CREDS]
        .iter()
        .map(|a| e.n(a))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn row_from_item(item: &Item) -> StorageResult<SessionRow> {
    Ok(SessionRow {
        id: get_s(item, ID)?,
        incarnation: get_s(item, INC)?,
        workspace: get_s(item, WS)?,
        name: opt_s(item, NAME)?,
        expires_at: match item.get(EXP) {
            None => None,
            Some(v) => Some(
                v.as_n()
                    .ok()
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or_else(|| corrupt(EXP, v))?,
            ),
        },
        body: get_s(item, BODY)?,
        credentials: match item.get(CREDS) {
            None => Vec::new(),
            Some(AttributeValue::Ss(digests)) => {
                let mut c: Vec<CredentialKey> = digests
                    .iter()
                    .map(|d| CredentialKey::from_stored(d.clone()))
                    .collect();
                c.sort();
                c
            }
            Some(v) => return Err(corrupt(CREDS, v)),
        },
    })
}

pub(super) fn record_from_item(mut item: Item) -> StorageResult<LogRecord> {
    let sk = get_s(&item, SK)?;
    let seq = sk
        .rsplit_once('#')
        .and_then(|(_, digits)| digits.parse::<u64>().ok())
        .ok_or_else(|| {
            StorageError::Backend(format!("dynamodb: log entry with bad sort key {sk:?}"))
        })?;
    let entry = match item.remove(ENTRY) {
        Some(AttributeValue::B(b)) => b.into_inner(),
        other => {
            return Err(StorageError::Backend(format!(
                "dynamodb: log entry {sk:?} has no bytes ({other:?})"
            )))
        }
    };
    Ok(LogRecord { seq, entry })
}

pub(super) fn corrupt(attr: &str, v: &AttributeValue) -> StorageError {
    StorageError::Backend(format!(
        "dynamodb: attribute {attr} has an unexpected value {v:?}"
    ))
}

pub(super) fn opt_s(item: &Item, attr: &str) -> StorageResult<Option<String>> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(v) => Err(corrupt(attr, v)),
    }
}

pub(super) fn get_s(item: &Item, attr: &str) -> StorageResult<String> {
    opt_s(item, attr)?
        .ok_or_else(|| StorageError::Backend(format!("dynamodb: item without attribute {attr}")))
}

pub(super) fn opt_u64(item: &Item, attr: &str) -> StorageResult<Option<u64>> {
    match item.get(attr) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| corrupt(attr, &AttributeValue::N(n.clone()))),
        Some(v) => Err(corrupt(attr, v)),
    }
}

// ------------------------------------------------------------- expressions

/// Placeholders for one request's expressions: every attribute name goes through
/// `#n…` (so reserved words such as `name` and `ttl` are safe) and every value
/// through `:v…`. Only what an expression used is sent, as DynamoDB requires.
#[derive(Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub(super) fn n(&mut self, attr: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attr.to_owned());
        p
    }

    pub(super) fn v(&mut self, value: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), value);
        p
    }

    pub(super) fn s(&mut self, value: &str) -> String {
        self.v(s(value))
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The row has exactly this name (or none).
pub(super) fn name_condition(e: &mut Expr, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{} = {}", e.n(NAME), e.s(n)),
        None => format!("attribute_not_exists({})", e.n(NAME)),
    }
}

/// `exp`, its index shard and `ttl` follow `expires_at` (of session `id`).
pub(super) fn expiry_updates(
    e: &mut Expr,
    id: &str,
    expires_at: Option<i64>,
    set: &mut Vec<String>,
    remove: &mut Vec<String>,
) {
    match expires_at {
        Some(exp) => {
            set.push(format!(
                "{} = {}",
                e.n(EXP),
                e.v(AttributeValue::N(exp.to_string()))
            ));
            set.push(format!(
                "{} = {}",
                e.n(TTL_ATTRIBUTE),
                e.v(AttributeValue::N(ttl_for(exp).to_string()))
            ));
            set.push(format!(
                "{} = {}",
                e.n(EXP_SHARD),
                e.v(super::expiry::exp_shard(id))
            ));
        }
        None => {
            remove.push(e.n(EXP));
            remove.push(e.n(TTL_ATTRIBUTE));
            remove.push(e.n(EXP_SHARD));
        }
    }
}

pub(super) fn update_expression(set: &[String], remove: &[String]) -> String {
    let mut expr = String::new();
    if !set.is_empty() {
        expr.push_str("SET ");
        expr.push_str(&set.join(", "));
    }
    if !remove.is_empty() {
        if !expr.is_empty() {
            expr.push(' ');
        }
        expr.push_str("REMOVE ");
        expr.push_str(&remove.join(", "));
    }
    expr
}
