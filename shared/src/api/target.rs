//! Which mirror a request is for, decided in one place for everything that
//! needs it: host routing and credential routing rewrite the request to its
//! path form, and the server's gate answers a body it refuses in that
//! mirror's vendor shape before any routing ran.
//!
//! In the order the routing layers apply: a `{mirror}-{suffix}.{domain}` host,
//! then a `/m/{session}/{mirror}/…` path, then — unless the path is the
//! control plane's — a credential in a vendor's scheme.

use axum::http::{HeaderMap, Uri};

use super::control;
use super::host::{host_of, split_host};
use crate::mirrors::Mirror;

/// How a request names its mirror.
#[derive(Debug, PartialEq)]
pub(crate) enum Via<'r> {
    /// `{mirror}-{suffix}.{domain}`: the session is `ses_{suffix}`.
    Host { suffix: &'r str },
    /// `/m/{session}/{mirror}/…`.
    Path,
    /// The credential the request carries, in the mirror's vendor scheme; the
    /// session it names is not looked up here.
    Credential(String),
    /// `Host` is one of the vendor's own API hosts (`api.stripe.com`, as
    /// `mirra proxy` forwards it), with the credential in the vendor's scheme
    /// if the request carries one.
    VendorHost(Option<String>),
}

/// The mirror of `mirrors` a request with this URI and these headers is for,
/// and how it says so; `None` for the control plane and for requests that name
/// no mirror (the control plane's 404 answers those).
pub(crate) fn target<'m, 'r>(
    uri: &'r Uri,
    headers: &'r HeaderMap,
    mirrors: &'m [Mirror],
) -> Option<(&'m Mirror, Via<'r>)> {
    let named = |name: &str| mirrors.iter().find(|m| m.def.name() == name);
    if let Some((mirror, suffix)) = split_host(host_of(headers, uri)) {
        if let Some(m) = named(mirror) {
            return Some((m, Via::Host { suffix }));
        }
    }
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/m/") {
        let mirror = rest.split('/').nth(1)?;
        return named(mirror).map(|m| (m, Via::Path));
    }
    if let Some(m) = mirrors
        .iter()
        .find(|m| m.vendor.serves_host(host_of(headers, uri)))
    {
        return Some((m, Via::VendorHost(m.vendor.credential_in(headers))));
    }
    if control::owns(path) {
        return None;
    }
    mirrors.iter().find_map(|m| {
        m.vendor
            .credential_in(headers)
            .map(|c| (m, Via::Credential(c)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mirror a request to `uri` at `host` with `auth` is for, and how it
    /// was named, as text.
    fn of(uri: &str, host: &str, auth: &str) -> Option<String> {
        let uri: Uri = uri.parse().expect("uri");
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().expect("host"));
        h.insert("authorization", auth.parse().expect("auth"));
        let mirrors = crate::mirrors::all();
        target(&uri, &h, &mirrors).map(|(m, via)| format!("{} {via:?}", m.def.name()))
    }

    /// Each way of naming a mirror is recognised, in the routing layers' order,
    /// and the control plane keeps its paths whatever key a request carries.
    #[test]
    fn a_mirror_is_named_by_host_path_or_credential_and_never_on_control_paths() {
        let (key, plain) = ("Bearer sk_test_abc", "127.0.0.1:4400");
        let host = "stripe-ab12.localhost:4400";
        let is = |want: &str| Some(want.to_string());
        assert_eq!(
            of("/v1/customers", host, ""),
            is(r#"stripe Host { suffix: "ab12" }"#)
        );
        assert_eq!(
            of("/m/ses_ab12/stripe/v1/customers", plain, ""),
            is("stripe Path")
        );
        assert_eq!(
            of("/v1/customers", plain, key),
            is(r#"stripe Credential("sk_test_abc")"#)
        );
        assert_eq!(of("/v1/sessions", plain, key), None);
        assert_eq!(of("/m/ses_ab12/twilio/x", plain, key), is("twilio Path"));
        assert_eq!(of("/m/ses_ab12/paypal/x", plain, key), None);
        assert_eq!(of("/v1/customers", plain, ""), None);
        assert_eq!(of("/v1/customers", plain, "Bearer pk_test_abc"), None);
        // A vendor's own host: that vendor's, with or without its credential,
        // whatever the path.
        let stripe = "api.stripe.com";
        assert_eq!(
            of("/v1/customers", stripe, key),
            is(r#"stripe VendorHost(Some("sk_test_abc"))"#)
        );
        assert_eq!(
            of("/v1/sessions", "API.Stripe.com:443", ""),
            is("stripe VendorHost(None)")
        );
        assert_eq!(
            of("/v2/Services", "verify.twilio.com", "Bearer sk_test_abc"),
            is("twilio VendorHost(None)")
        );
        assert_eq!(
            of("/emails", "api.resend.com", ""),
            is("resend VendorHost(None)")
        );
        assert_eq!(
            of("/v1/customers", "stripe.com", key),
            is(r#"stripe Credential("sk_test_abc")"#)
        );
    }
}
