//! Isolation by type, checked: mirror code (`src/mirrors/`) reaches state only
//! through the `Door` and `SessionContext` it is given, never the session
//! service, the state engine, log keys or storage.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// No file under `src/mirrors/` names the session service, the engine, log or
/// mirror keys, or any storage type.
#[test]
fn mirror_code_never_names_the_session_service_engine_or_storage() {
    const FORBIDDEN: &[&str] = &[
        "Sessions",
        "StateEngine",
        "LogKey",
        "MirrorKey",
        "SessionTable",
        "ObjectStore",
        "crate::storage",
        "crate::state::engine",
        ".engine()",
    ];
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mirrors"),
        &mut files,
    );
    assert!(files.len() > 5, "found the mirror sources");
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                let named = code.match_indices(word).any(|(i, _)| {
                    let after = code[i + word.len()..].chars().next();
                    !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if named {
                    hits.push(format!("{}:{}: {word}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "mirror code reaches past its door:\n{}",
        hits.join("\n")
    );
}
