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
            let code = without_strings(line.split("//").next().unwrap_or_default());
            let ident = |c: char| c.is_alphanumeric() || c == '_';
            for word in FORBIDDEN {
                // The whole name (`GetCheckoutSessions` is an operation, not
                // the session service), outside string literals (a message
                // may say "Checkout Sessions").
                let named = code.match_indices(word).any(|(i, _)| {
                    let before = code[..i].chars().next_back();
                    let after = code[i + word.len()..].chars().next();
                    let starts_name = word.starts_with(|c: char| c.is_alphanumeric());
                    let inside_a_name = starts_name && before.is_some_and(ident);
                    !(inside_a_name || after.is_some_and(ident))
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

/// `line` with the contents of its string literals taken out.
fn without_strings(line: &str) -> String {
    let (mut out, mut in_str, mut escaped) = (String::new(), false, false);
    for c in line.chars() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
                out.push(c);
            }
        } else {
            in_str = c == '"';
            out.push(c);
        }
    }
    out
}

/// The scan sees names in code, not in strings or inside longer names.
#[test]
fn the_scan_sees_whole_names_in_code_only() {
    assert_eq!(
        without_strings(r#"f("a \"Sessions\" b", Sessions)"#),
        r#"f("", Sessions)"#
    );
}
