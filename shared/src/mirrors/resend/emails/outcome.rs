//! What happens to an email after it is sent, decided as Resend's test
//! addresses decide it: `delivered@resend.dev`, `bounced@resend.dev`,
//! `complained@resend.dev` and `suppressed@resend.dev`, each also with a
//! `+label` (`bounced+signup@resend.dev`). Resend has no address for a late
//! delivery, so the mirror adds `delayed@resend.dev`: `delivery_delayed`
//! first, delivered later. Any other address is delivered. The first `to`
//! address decides for the email.

/// The end an email comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Bounced,
    /// Delivered, then marked as spam by the recipient.
    Complained,
    Suppressed,
    /// Delayed (`email.delivery_delayed`), then delivered.
    Delayed,
}

/// The outcome for a recipient address (`Name <addr>` or a bare address).
pub fn for_recipient(address: &str) -> Outcome {
    let addr = super::address::mailbox(address)
        .unwrap_or(address)
        .to_ascii_lowercase();
    let Some((local, domain)) = addr.split_once('@') else {
        return Outcome::Delivered;
    };
    if domain != "resend.dev" {
        return Outcome::Delivered;
    }
    match local.split('+').next().unwrap_or_default() {
        "bounced" => Outcome::Bounced,
        "complained" => Outcome::Complained,
        "suppressed" => Outcome::Suppressed,
        "delayed" => Outcome::Delayed,
        _ => Outcome::Delivered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resend's test addresses, with and without labels, decide; others deliver.
    #[test]
    fn resends_test_addresses_decide_the_outcome() {
        assert_eq!(for_recipient("delivered@resend.dev"), Outcome::Delivered);
        assert_eq!(for_recipient("bounced@resend.dev"), Outcome::Bounced);
        assert_eq!(
            for_recipient("Bob <Bounced+signup@Resend.dev>"),
            Outcome::Bounced
        );
        assert_eq!(
            for_recipient("complained+x@resend.dev"),
            Outcome::Complained
        );
        assert_eq!(for_recipient("suppressed@resend.dev"), Outcome::Suppressed);
        assert_eq!(for_recipient("delayed+x@resend.dev"), Outcome::Delayed);
        assert_eq!(for_recipient("bounced@example.com"), Outcome::Delivered);
        assert_eq!(for_recipient("someone@resend.dev"), Outcome::Delivered);
    }
}
