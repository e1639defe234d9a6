//! Which mirrors and seeds a create or reset names, checked, and the images
//! they resolve to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::Sessions;
use crate::session::{MirrorDef, MirrorState, SessionError, SessionResult};
use crate::state::ImageRecipe;

impl Sessions {
    pub(super) fn def(&self, mirror: &str) -> SessionResult<&Arc<dyn MirrorDef>> {
        self.mirrors.get(mirror).ok_or_else(|| {
            SessionError::Invalid(format!(
                "unknown mirror {mirror:?} (known: {})",
                self.mirrors.keys().copied().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The mirrors a request names: its list, else the ones its seeds name, else
    /// (on create) every known mirror's first, `stripe`.
    pub(super) fn requested_mirrors(
        &self,
        list: Option<&[String]>,
        seeds: &BTreeMap<String, String>,
        seed_files: &BTreeMap<String, serde_json::Value>,
        creating: bool,
    ) -> SessionResult<Vec<String>> {
        let mirrors: Vec<String> = match list {
            Some(l) => l.to_vec(),
            None => {
                let named: BTreeSet<&String> = seeds.keys().chain(seed_files.keys()).collect();
                if named.is_empty() && creating {
                    vec!["stripe".to_string()]
                } else {
                    named.into_iter().cloned().collect()
                }
            }
        };
        if mirrors.is_empty() {
            return Err(SessionError::Invalid(
                "mirrors must name at least one mirror".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for m in &mirrors {
            self.def(m)?;
            if !seen.insert(m) {
                return Err(SessionError::Invalid(format!(
                    "mirror {m:?} is listed twice"
                )));
            }
        }
        self.check_seed_keys(&mirrors, seeds, seed_files)?;
        Ok(mirrors)
    }

    pub(super) fn check_seed_keys(
        &self,
        mirrors: &[String],
        seeds: &BTreeMap<String, String>,
        seed_files: &BTreeMap<String, serde_json::Value>,
    ) -> SessionResult<()> {
        for m in seeds.keys().chain(seed_files.keys()) {
            self.def(m)?;
            if !mirrors.contains(m) {
                return Err(SessionError::Invalid(format!(
                    "a seed is given for {m:?}, which is not among the mirrors"
                )));
            }
            if seeds.contains_key(m) && seed_files.contains_key(m) {
                return Err(SessionError::Invalid(format!(
                    "give {m:?} either a seed or a seed file, not both"
                )));
            }
        }
        Ok(())
    }

    /// (label, seed document) for one mirror.
    pub(super) fn resolve_seed(
        &self,
        def: &Arc<dyn MirrorDef>,
        name: Option<&String>,
        file: Option<&serde_json::Value>,
    ) -> SessionResult<(String, serde_json::Value)> {
        if let Some(doc) = file {
            return Ok(("custom".to_string(), doc.clone()));
        }
        let raw = name.map(String::as_str).unwrap_or("default");
        // Accept both `default` and `stripe:default`.
        let seed_name = raw
            .strip_prefix(def.name())
            .and_then(|r| r.strip_prefix(':'))
            .unwrap_or(raw);
        match def.builtin_seed(seed_name) {
            Some(doc) => Ok((seed_name.to_string(), doc)),
            None => Err(SessionError::Invalid(format!(
                "unknown seed {}:{seed_name} (known: {})",
                def.name(),
                def.seed_names().join(", ")
            ))),
        }
    }

    pub(super) async fn build_image(
        &self,
        def: &Arc<dyn MirrorDef>,
        seed: &serde_json::Value,
    ) -> SessionResult<(String, bool)> {
        let load =
            |conn: &rusqlite::Connection, seed: &serde_json::Value| def.load_seed(conn, seed);
        let recipe = ImageRecipe {
            mirror: def.name(),
            schema: def.schema(),
            seed,
            load: &load,
        };
        Ok(self.engine.images().ensure(&recipe).await?)
    }
}

/// Hash over the mirrors' image hashes: a session's whole configuration.
pub(super) fn config_hash(mirrors: &BTreeMap<String, MirrorState>) -> String {
    let mut h = Sha256::new();
    for (m, st) in mirrors {
        h.update(m.as_bytes());
        h.update(b"=");
        h.update(st.image.as_bytes());
        h.update(b";");
    }
    hex::encode(&h.finalize()[..8])
}
