//! A vendor's route table: `(method, path template) → operation`, matched by the
//! vendor's pipeline after the session and the credential are known (so routing
//! errors come in the vendor's shape, after its auth, as the vendors do). A new
//! resource operation is one line in that table.

use axum::http::Method;

/// One emulated operation.
#[derive(Debug)]
pub struct Route<H> {
    pub method: Method,
    /// `/v1/customers/{customer}`: literal segments and `{name}` parameters,
    /// which may carry a literal suffix (Twilio's `/Messages/{Sid}.json`).
    pub template: &'static str,
    /// The vendor's OpenAPI operation id (`PostCustomersCustomer`).
    pub operation: &'static str,
    pub handler: H,
}

/// Path parameters of a matched route, in template order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathArgs(Vec<(&'static str, String)>);

impl PathArgs {
    /// The value of `{name}`, or `""` when the template has none.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

enum Seg {
    Lit(&'static str),
    /// `{name}` and what follows it in the segment (`.json`, or nothing).
    Param(&'static str, &'static str),
}

pub struct Routes<H> {
    routes: Vec<(Route<H>, Vec<Seg>)>,
}

/// What matching a request found.
pub enum Match<'a, H> {
    Found(&'a Route<H>, PathArgs),
    /// The path exists for other methods only.
    OtherMethod,
    NoSuchPath,
}

impl<H> Routes<H> {
    pub fn new(routes: Vec<Route<H>>) -> Self {
        let routes = routes
            .into_iter()
            .map(|r| {
                let segs = split(r.template)
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.split_once('}')) {
                            Some((name, suffix)) => Seg::Param(name, suffix),
                            None => Seg::Lit(s),
                        },
                    )
                    .collect();
                (r, segs)
            })
            .collect();
        Routes { routes }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route<H>> {
        self.routes.iter().map(|(r, _)| r)
    }

    /// The route for `method` and the concrete `path`. Literal segments win over
    /// parameters (`/v1/customers/search` is not the customer `search`).
    pub fn find(&self, method: &Method, path: &str) -> Match<'_, H> {
        let parts: Vec<&str> = split(path).collect();
        let mut best: Option<(usize, &Route<H>, PathArgs)> = None;
        let mut other_method = false;
        for (route, segs) in &self.routes {
            let Some((literals, args)) = matches(segs, &parts) else {
                continue;
            };
            if route.method != *method {
                other_method = true;
                continue;
            }
            if best.as_ref().is_none_or(|(l, _, _)| literals > *l) {
                best = Some((literals, route, args));
            }
        }
        match best {
            Some((_, route, args)) => Match::Found(route, args),
            None if other_method => Match::OtherMethod,
            None => Match::NoSuchPath,
        }
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// How many literal segments matched, and the parameters; `None` if no match.
fn matches(segs: &[Seg], parts: &[&str]) -> Option<(usize, PathArgs)> {
    if segs.len() != parts.len() {
        return None;
    }
    let mut literals = 0;
    let mut args = Vec::new();
    for (seg, part) in segs.iter().zip(parts) {
        match seg {
            Seg::Lit(l) if l == part => literals += 1,
            Seg::Lit(_) => return None,
            Seg::Param(name, suffix) => match part.strip_suffix(suffix) {
                Some(value) if !value.is_empty() => args.push((*name, percent_decode(value))),
                _ => return None,
            },
        }
    }
    Some((literals, PathArgs(args)))
}

/// The URL a request reached a session's mirror at: scheme (`https` when a
/// proxy says so), the `Host` it named, and `/m/{session}/{mirror}` unless the
/// host itself names the session (host routing). For answers that carry
/// absolute URLs back to the mirror (Twilio's `next_page_url`, Stripe's
/// hosted pages).
pub fn base_url(headers: &axum::http::HeaderMap, session: &str, mirror: &str) -> String {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let host = header("host").unwrap_or("127.0.0.1");
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let suffix = session.strip_prefix("ses_").unwrap_or(session);
    if host.starts_with(&format!("{mirror}-{suffix}.")) {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}/m/{session}/{mirror}")
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// The `{session}` of a mirror's route (`/m/{session}/{mirror}/…`), empty
/// when absent (the session lookup then answers the vendor's 404).
pub fn session_param(path: &axum::extract::RawPathParams) -> String {
    path.iter()
        .find(|(k, _)| *k == "session")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Routes<u8> {
        let r = |method, template, operation, handler| Route {
            method,
            template,
            operation,
            handler,
        };
        Routes::new(vec![
            r(Method::GET, "/v1/customers", "GetCustomers", 1),
            r(
                Method::GET,
                "/v1/customers/{customer}",
                "GetCustomersCustomer",
                2,
            ),
            r(Method::GET, "/v1/customers/search", "GetCustomersSearch", 3),
            r(
                Method::POST,
                "/v1/payment_intents/{intent}/confirm",
                "PostPaymentIntentsIntentConfirm",
                4,
            ),
        ])
    }

    /// Literal segments beat parameters, parameters are captured and decoded,
    /// and a path known for other methods is told apart from an unknown one.
    #[test]
    fn routes_match_literals_first_and_capture_parameters() {
        let t = table();
        match t.find(&Method::GET, "/v1/customers/search") {
            Match::Found(r, _) => assert_eq!(r.handler, 3),
            _ => panic!("search not found"),
        }
        match t.find(&Method::GET, "/v1/customers/cus_a%20b") {
            Match::Found(r, args) => {
                assert_eq!(r.handler, 2);
                assert_eq!(args.get("customer"), "cus_a b");
            }
            _ => panic!("customer not found"),
        }
        match t.find(&Method::POST, "/v1/payment_intents/pi_1/confirm/") {
            Match::Found(r, args) => assert_eq!((r.handler, args.get("intent")), (4, "pi_1")),
            _ => panic!("confirm not found"),
        }
        assert!(matches!(
            t.find(&Method::DELETE, "/v1/customers"),
            Match::OtherMethod
        ));
        assert!(matches!(
            t.find(&Method::GET, "/v1/nothing"),
            Match::NoSuchPath
        ));
    }

    /// A parameter with a literal suffix (`{Sid}.json`) captures what comes
    /// before the suffix, and a segment without it does not match.
    #[test]
    fn parameters_with_a_suffix_capture_the_part_before_it() {
        let t = Routes::new(vec![
            Route {
                method: Method::GET,
                template: "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json",
                operation: "FetchMessage",
                handler: 1,
            },
            Route {
                method: Method::GET,
                template: "/2010-04-01/Accounts/{AccountSid}/Messages.json",
                operation: "ListMessage",
                handler: 2,
            },
        ]);
        match t.find(&Method::GET, "/2010-04-01/Accounts/AC1/Messages/SM1.json") {
            Match::Found(r, args) => {
                assert_eq!(r.handler, 1);
                assert_eq!((args.get("AccountSid"), args.get("Sid")), ("AC1", "SM1"));
            }
            _ => panic!("message not found"),
        }
        match t.find(&Method::GET, "/2010-04-01/Accounts/AC1/Messages.json") {
            Match::Found(r, _) => assert_eq!(r.handler, 2),
            _ => panic!("list not found"),
        }
        for path in [
            "/2010-04-01/Accounts/AC1/Messages/SM1",
            "/2010-04-01/Accounts/AC1/Messages/.json",
        ] {
            assert!(
                matches!(t.find(&Method::GET, path), Match::NoSuchPath),
                "{path}"
            );
        }
    }
}
