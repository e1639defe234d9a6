//! [`WorkspaceTable`]'s contract: conditional creates of a workspace with its
//! first token, replace-never-create, listing by id, tokens by digest and by
//! workspace, revoking at once.

use super::*;
use crate::storage::{TokenDigest, TokenRow, WorkspaceRow, WorkspaceTable};

fn workspace(id: &str, body: &str) -> WorkspaceRow {
    WorkspaceRow {
        id: id.into(),
        created_at_ms: 1_796_083_140_123,
        body: body.into(),
    }
}

fn token(id: &str, workspace: &str) -> TokenRow {
    TokenRow {
        id: id.into(),
        workspace: workspace.into(),
        digest: TokenDigest::of(&format!("secret-{}", run_id())),
        created_at_ms: 1_796_083_140_456,
        body: r#"{"scope":"write","note":"ünïcødé ✓"}"#.into(),
    }
}

/// Checks [`WorkspaceTable`]'s contract against `table`, under fresh ids
/// (workspaces cannot be deleted through the trait and stay behind).
pub async fn workspace_table(t: &dyn WorkspaceTable) {
    let run = run_id();
    let ws = |n: &str| format!("wsconf-{run}-{n}");
    let (a, b, c) = (ws("a"), ws("b"), ws("c"));

    assert_not_found(t.get_workspace(&a).await, "get_workspace of a missing id");
    assert_not_found(
        t.put_workspace(&workspace(&a, "{}")).await,
        "put_workspace of a missing id (it never creates)",
    );
    assert_not_found(
        t.get_workspace(&a).await,
        "put_workspace created a workspace",
    );
    let orphan = token("tok_orphan", &a);
    assert_not_found(
        t.create_token(&orphan).await,
        "create_token without its workspace",
    );
    assert_not_found(
        t.find_token(&orphan.digest).await,
        "a token refused for a missing workspace was stored",
    );

    // Conditional create, with the first token, atomically.
    let first = token("tok_first", &a);
    t.create_workspace(&workspace(&a, r#"{"plan":"free"}"#), &first)
        .await
        .expect("create_workspace");
    assert_eq!(
        t.get_workspace(&a).await.expect("get_workspace"),
        workspace(&a, r#"{"plan":"free"}"#),
        "workspace round trip"
    );
    assert_eq!(
        t.find_token(&first.digest).await.expect("find_token"),
        first,
        "the first token is stored with its workspace"
    );
    let second_try = token("tok_other", &a);
    assert_exists(
        t.create_workspace(&workspace(&a, "{}"), &second_try).await,
        "create_workspace of a taken id",
    );
    assert_not_found(
        t.find_token(&second_try.digest).await,
        "a refused create_workspace stored its token",
    );
    assert_exists(
        t.create_workspace(&workspace(&b, "{}"), &first).await,
        "create_workspace whose token digest is taken",
    );
    assert_not_found(
        t.get_workspace(&b).await,
        "a create_workspace refused for its token stored the workspace",
    );

    // Racing creates of one id: one winner.
    let racers: Vec<TokenRow> = (0..RACERS)
        .map(|i| token(&format!("tok_r{i}"), &c))
        .collect();
    let contested = workspace(&c, "{}");
    let results = join_all(racers.iter().map(|tok| t.create_workspace(&contested, tok))).await;
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        winners, 1,
        "racing create_workspace: one winner, got {results:?}"
    );
    for r in &results {
        assert!(
            matches!(r, Ok(()) | Err(StorageError::AlreadyExists(_))),
            "racing create_workspace losers get AlreadyExists: {r:?}"
        );
    }
    let stored: Vec<&TokenRow> = {
        let mut v = Vec::new();
        for tok in &racers {
            if t.find_token(&tok.digest).await.is_ok() {
                v.push(tok);
            }
        }
        v
    };
    assert_eq!(stored.len(), 1, "only the winner's token is stored");

    // Replace.
    t.put_workspace(&workspace(&a, r#"{"plan":"team"}"#))
        .await
        .expect("put_workspace");
    assert_eq!(
        t.get_workspace(&a).await.expect("get").body,
        r#"{"plan":"team"}"#,
        "put_workspace replaces the body"
    );

    // Listing by id, paged.
    t.create_workspace(&workspace(&b, "{}"), &token("tok_b", &b))
        .await
        .expect("create b");
    let prefix = format!("wsconf-{run}-");
    let page = t
        .list_workspaces(Some(&prefix), 2)
        .await
        .expect("list_workspaces");
    let ids: Vec<&str> = page.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        [a.as_str(), b.as_str()],
        "list_workspaces by id, limited"
    );
    let rest = t
        .list_workspaces(Some(&b), 1)
        .await
        .expect("list_workspaces after");
    assert_eq!(
        rest.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        [c.as_str()],
        "list_workspaces after an id"
    );

    // More tokens, listed by id; ids unique per workspace, digests globally.
    let admin = token("tok_admin", &a);
    t.create_token(&admin).await.expect("create_token");
    assert_exists(
        t.create_token(&token("tok_admin", &a)).await,
        "create_token with an id taken in its workspace",
    );
    let mut same_digest = token("tok_copy", &b);
    same_digest.digest = admin.digest.clone();
    assert_exists(
        t.create_token(&same_digest).await,
        "create_token with a digest taken (in another workspace)",
    );
    let listed = t.list_tokens(&a).await.expect("list_tokens");
    assert_eq!(
        listed,
        vec![admin.clone(), first.clone()],
        "list_tokens: the workspace's tokens by id"
    );
    assert_eq!(
        t.list_tokens(&b).await.expect("list b").len(),
        1,
        "list_tokens per workspace"
    );

    // Revoking: another workspace's id deletes nothing; then at once.
    assert_flag(
        t.delete_token(&b, "tok_admin").await,
        false,
        "delete_token of another workspace's token id",
    );
    assert!(t.find_token(&admin.digest).await.is_ok(), "still there");
    assert_flag(t.delete_token(&a, "tok_admin").await, true, "delete_token");
    assert_not_found(
        t.find_token(&admin.digest).await,
        "find_token after revoking",
    );
    assert_flag(
        t.delete_token(&a, "tok_admin").await,
        false,
        "delete_token twice",
    );
    assert_eq!(
        t.list_tokens(&a).await.expect("list"),
        vec![first],
        "list_tokens after revoking"
    );
}
