//! TwiML for Programmable Messaging: what an app answers an inbound message
//! with (`inbound`). Twilio carries out `<Message>` (a reply, its text as
//! content or in `<Body>`, with `<Media>` URLs; `to`/`from`/`action`/`method`
//! attributes) and `<Redirect>` (fetch more TwiML from another URL); any
//! other verb is skipped with Twilio's 12200 warning, and a document that is
//! not XML, or whose root is not `<Response>`, is Twilio's 12100.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// One instruction of a TwiML document, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Message(Reply),
    /// Fetch the TwiML at `url` (relative to the document's URL) with `method`.
    Redirect {
        url: String,
        method: String,
    },
}

/// A `<Message>`: a reply to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// Who to send to; `None`: the inbound message's sender.
    pub to: Option<String>,
    /// Who to send from; `None`: the number the inbound message reached.
    pub from: Option<String>,
    /// The text, trimmed (content of `<Message>` or of its `<Body>`).
    pub body: String,
    pub media: Vec<String>,
    /// The reply's status callback (`action`, or the older `statusCallback`).
    pub action: Option<String>,
    /// How `action` is requested (`POST` unless `GET`).
    pub method: Option<String>,
}

/// What a TwiML document says, and what Twilio would warn about in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub verbs: Vec<Verb>,
    /// Twilio's 12200 warnings: verbs and nouns it does not know here.
    pub warnings: Vec<String>,
}

/// Why a document could not be read: Twilio's 12100 (document parse failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Document parse failure: {0}")]
pub struct ParseError(pub String);

/// Where text goes while reading.
#[derive(Clone, Copy, PartialEq)]
enum Sink {
    None,
    Body,
    Media,
    Redirect,
}

/// Reads a TwiML document.
pub fn parse(xml: &str) -> Result<Document, ParseError> {
    let mut reader = Reader::from_str(xml);
    let mut doc = Document::default();
    // Element names from the root down.
    let mut path: Vec<String> = Vec::new();
    let mut sink = Sink::None;
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| ParseError(format!("{e} at byte {}", reader.error_position())))?;
        match event {
            Event::Start(e) => {
                let name = element_name(&e)?;
                open(&mut doc, &path, &name, &e, &mut sink, &mut text, seen_root)?;
                seen_root = true;
                path.push(name);
            }
            Event::Empty(e) => {
                let name = element_name(&e)?;
                open(&mut doc, &path, &name, &e, &mut sink, &mut text, seen_root)?;
                seen_root = true;
                path.push(name);
                close(&mut doc, &mut path, &mut sink, &mut text);
            }
            Event::End(_) => close(&mut doc, &mut path, &mut sink, &mut text),
            Event::Text(t) => {
                let s = t.decode().map_err(|e| ParseError(e.to_string()))?;
                if path.is_empty() && !s.trim().is_empty() {
                    return Err(ParseError("text outside <Response>".into()));
                }
                if sink != Sink::None {
                    text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if sink != Sink::None {
                    text.push_str(&t.decode().map_err(|e| ParseError(e.to_string()))?);
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.decode().map_err(|e| ParseError(e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| ParseError(format!("unknown entity &{name};")))?
                            .to_string()
                    }
                    Err(e) => return Err(ParseError(e.to_string())),
                };
                if sink != Sink::None {
                    text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !seen_root {
        return Err(ParseError("the document is empty".into()));
    }
    if !path.is_empty() {
        return Err(ParseError(format!("<{}> is not closed", path.join("><"))));
    }
    Ok(doc)
}

fn element_name(e: &BytesStart) -> Result<String, ParseError> {
    std::str::from_utf8(e.name().as_ref())
        .map(str::to_string)
        .map_err(|e| ParseError(e.to_string()))
}

/// The value of attribute `name`, unescaped.
fn attribute(e: &BytesStart, name: &str) -> Result<Option<String>, ParseError> {
    for a in e.attributes() {
        let a = a.map_err(|e| ParseError(e.to_string()))?;
        if a.key.as_ref() == name.as_bytes() {
            let v = a.unescape_value().map_err(|e| ParseError(e.to_string()))?;
            return Ok(Some(v.trim().to_string()).filter(|v| !v.is_empty()));
        }
    }
    Ok(None)
}

/// An element starts under `path`.
fn open(
    doc: &mut Document,
    path: &[String],
    name: &str,
    e: &BytesStart,
    sink: &mut Sink,
    text: &mut String,
    seen_root: bool,
) -> Result<(), ParseError> {
    let parent = path.iter().map(String::as_str).collect::<Vec<_>>();
    match (parent.as_slice(), name) {
        ([], "Response") if !seen_root => {}
        ([], other) => {
            return Err(ParseError(format!(
                "the root element must be <Response>, not <{other}>"
            )))
        }
        (["Response"], "Message") => {
            doc.verbs.push(Verb::Message(Reply {
                to: attribute(e, "to")?,
                from: attribute(e, "from")?,
                action: match attribute(e, "action")? {
                    Some(a) => Some(a),
                    None => attribute(e, "statusCallback")?,
                },
                method: attribute(e, "method")?,
                ..Reply::default()
            }));
            *sink = Sink::Body;
            text.clear();
        }
        (["Response"], "Redirect") => {
            doc.verbs.push(Verb::Redirect {
                url: String::new(),
                method: attribute(e, "method")?
                    .map(|m| m.to_ascii_uppercase())
                    .unwrap_or_else(|| "POST".into()),
            });
            *sink = Sink::Redirect;
            text.clear();
        }
        (["Response", "Message"], "Body") => {
            // Text before <Body> was whitespace; the body is the noun's.
            *sink = Sink::Body;
            text.clear();
        }
        (["Response", "Message"], "Media") => {
            flush_body(doc, text);
            *sink = Sink::Media;
        }
        _ => {
            doc.warnings.push(format!(
                "<{name}> inside <{}> is not a TwiML messaging verb or noun; skipped",
                parent.last().copied().unwrap_or_default()
            ));
            *sink = Sink::None;
        }
    }
    Ok(())
}

/// The element on top of `path` ends: what was read goes where it belongs.
fn close(doc: &mut Document, path: &mut Vec<String>, sink: &mut Sink, text: &mut String) {
    let name = path.pop().unwrap_or_default();
    let parent = path.last().map(String::as_str);
    match (parent, name.as_str(), *sink) {
        (Some("Message"), "Media", Sink::Media) => {
            if let Some(Verb::Message(r)) = doc.verbs.last_mut() {
                let url = text.trim();
                if !url.is_empty() {
                    r.media.push(url.to_string());
                }
            }
            text.clear();
            // Back in <Message>: later text is no body (Twilio takes <Body>).
            *sink = Sink::None;
        }
        (Some("Message"), "Body", Sink::Body) => {
            flush_body(doc, text);
            *sink = Sink::None;
        }
        (Some("Response"), "Message", s) => {
            if s == Sink::Body {
                flush_body(doc, text);
            }
            *sink = Sink::None;
        }
        (Some("Response"), "Redirect", Sink::Redirect) => {
            if let Some(Verb::Redirect { url, .. }) = doc.verbs.last_mut() {
                *url = text.trim().to_string();
            }
            text.clear();
            *sink = Sink::None;
        }
        // An unknown element closes: `open` stopped reading text at it.
        _ => {}
    }
}

/// Text read so far becomes the current `<Message>`'s body (once).
fn flush_body(doc: &mut Document, text: &mut String) {
    if let Some(Verb::Message(r)) = doc.verbs.last_mut() {
        let t = text.trim();
        if r.body.is_empty() && !t.is_empty() {
            r.body = t.to_string();
        }
    }
    text.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(verb: &Verb) -> &Reply {
        match verb {
            Verb::Message(r) => r,
            other => panic!("expected a <Message>, got {other:?}"),
        }
    }

    /// What twilio-python's and twilio-node's `MessagingResponse` write:
    /// `<Message>` with text, with `<Body>` and `<Media>`, attributes, and
    /// entities unescaped.
    #[test]
    fn messages_are_read_as_the_sdks_write_them() {
        let doc = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Message>Thanks &amp; see you &#8211; soon</Message>
              <Message to="+14155550100" from="+15005550006" action="https://app.test/status" method="GET"><Body>Hello <![CDATA[<World>]]></Body><Media>https://app.test/a.png</Media><Media>https://app.test/b.jpg</Media></Message>
              <Message/>
            </Response>"#,
        )
        .expect("parse");
        assert_eq!(doc.verbs.len(), 3);
        assert_eq!(
            message(&doc.verbs[0]).body,
            "Thanks & see you \u{2013} soon"
        );
        let r = message(&doc.verbs[1]);
        assert_eq!(r.body, "Hello <World>");
        assert_eq!(
            r.media,
            vec!["https://app.test/a.png", "https://app.test/b.jpg"]
        );
        assert_eq!(r.to.as_deref(), Some("+14155550100"));
        assert_eq!(r.from.as_deref(), Some("+15005550006"));
        assert_eq!(r.action.as_deref(), Some("https://app.test/status"));
        assert_eq!(r.method.as_deref(), Some("GET"));
        assert_eq!(message(&doc.verbs[2]), &Reply::default());
        assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    }

    /// An empty `<Response/>` asks for nothing; `<Redirect>` keeps its URL
    /// and method; verbs of Voice are skipped with a warning.
    #[test]
    fn redirects_are_kept_and_unknown_verbs_warned_about() {
        assert_eq!(parse("<Response/>").expect("empty").verbs, vec![]);
        let doc = parse(
            "<Response><Say>hi</Say><Redirect method=\"get\">/next</Redirect><Message>ok</Message></Response>",
        )
        .expect("parse");
        assert_eq!(
            doc.verbs,
            vec![
                Verb::Redirect {
                    url: "/next".into(),
                    method: "GET".into()
                },
                Verb::Message(Reply {
                    body: "ok".into(),
                    ..Reply::default()
                })
            ]
        );
        assert_eq!(doc.warnings.len(), 1, "{:?}", doc.warnings);
        assert!(doc.warnings[0].contains("<Say>"));
    }

    /// Not XML, not closed, or another root: Twilio's document parse failure.
    #[test]
    fn what_is_not_a_twiml_document_is_a_parse_failure() {
        for bad in [
            "",
            "thanks!",
            "<Response><Message>hi</Response>",
            "<Response><Message>hi</Message>",
            "<html><body>hi</body></html>",
            "<Response></Response><Response/>",
            "<Response><Message>&bogus;</Message></Response>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
