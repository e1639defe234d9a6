//! AvailablePhoneNumbers (`/AvailablePhoneNumbers/{Country}/{Local,Mobile,TollFree}.json`):
//! the numbers a session can buy. The catalogue is fixed and made of
//! numbers reserved for fiction, so nothing a test buys is anyone's real
//! number: in North America `NXX 555-0100…0199` per area code; in the UK
//! Ofcom's drama ranges (`020 7946 0xxx`, `07700 900xxx`, `0808 157 0xxx`).
//! A number the session already owns is not offered.
//!
//! | country | Local (area codes) | Mobile | TollFree |
//! |---------|--------------------|--------|----------|
//! | US | 206 212 305 312 415 512 617 720 | — (Twilio has none) | 800 833 844 855 866 877 888 |
//! | CA | 416 514 604 | — | 800 833 844 855 866 877 888 |
//! | GB | 20 (London; voice only) | 7700 | 808 |
//!
//! Any other area code has no numbers (area code 533 is Twilio's test value
//! for that), any other country or type answers 20404 as Twilio does for a
//! country it sells no numbers in.

use serde_json::{json, Value};

use super::error::TwilioError;
use super::numbers;
use super::paging;
use super::pipeline::Call;

/// A number type of the catalogue: the last segment of the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Local,
    Mobile,
    TollFree,
}

/// A hundred numbers: `prefix` followed by `00`…`99`.
struct Series {
    country: &'static str,
    kind: Type,
    /// The NANP area code (US, CA) or national trunk code, for `AreaCode`.
    area: &'static str,
    prefix: &'static str,
    locality: &'static str,
    region: &'static str,
    postal_code: &'static str,
    rate_center: &'static str,
    lata: &'static str,
    lat_long: Option<(f64, f64)>,
    /// voice, sms, mms
    caps: (bool, bool, bool),
    address_requirements: &'static str,
}

const fn town(
    country: &'static str,
    area: &'static str,
    prefix: &'static str,
    place: (&'static str, &'static str, &'static str, &'static str),
    lata: &'static str,
    lat_long: (f64, f64),
) -> Series {
    Series {
        country,
        kind: Type::Local,
        area,
        prefix,
        locality: place.0,
        region: place.1,
        postal_code: place.2,
        rate_center: place.3,
        lata,
        lat_long: Some(lat_long),
        caps: (true, true, true),
        address_requirements: "none",
    }
}

const fn national(
    country: &'static str,
    kind: Type,
    area: &'static str,
    prefix: &'static str,
    caps: (bool, bool, bool),
    address_requirements: &'static str,
) -> Series {
    Series {
        country,
        kind,
        area,
        prefix,
        locality: "",
        region: "",
        postal_code: "",
        rate_center: "",
        lata: "",
        lat_long: None,
        caps,
        address_requirements,
    }
}

#[rustfmt::skip]
static CATALOGUE: &[Series] = &[
    town("US", "206", "+120655501", ("Seattle", "WA", "98101", "SEATTLE"), "674", (47.6062, -122.3321)),
    town("US", "212", "+121255501", ("New York", "NY", "10001", "NWYRCYZN01"), "132", (40.7128, -74.006)),
    town("US", "305", "+130555501", ("Miami", "FL", "33101", "MIAMI"), "460", (25.7617, -80.1918)),
    town("US", "312", "+131255501", ("Chicago", "IL", "60601", "CHICAGOZN"), "358", (41.8781, -87.6298)),
    town("US", "415", "+141555501", ("San Francisco", "CA", "94105", "SNFC CNTRL"), "722", (37.7749, -122.4194)),
    town("US", "512", "+151255501", ("Austin", "TX", "78701", "AUSTIN"), "558", (30.2672, -97.7431)),
    town("US", "617", "+161755501", ("Boston", "MA", "02108", "BOSTON"), "128", (42.3601, -71.0589)),
    town("US", "720", "+172055501", ("Denver", "CO", "80202", "DENVER"), "656", (39.7392, -104.9903)),
    national("US", Type::TollFree, "800", "+180055501", (true, true, true), "none"),
    national("US", Type::TollFree, "833", "+183355501", (true, true, true), "none"),
    national("US", Type::TollFree, "844", "+184455501", (true, true, true), "none"),
    national("US", Type::TollFree, "855", "+185555501", (true, true, true), "none"),
    national("US", Type::TollFree, "866", "+186655501", (true, true, true), "none"),
    national("US", Type::TollFree, "877", "+187755501", (true, true, true), "none"),
    national("US", Type::TollFree, "888", "+188855501", (true, true, true), "none"),
    town("CA", "416", "+141655501", ("Toronto", "ON", "M5H", "TORONTO"), "888", (43.6532, -79.3832)),
    town("CA", "514", "+151455501", ("Montreal", "QC", "H2Y", "MONTREAL"), "850", (45.5019, -73.5674)),
    town("CA", "604", "+160455501", ("Vancouver", "BC", "V6B", "VANCOUVER"), "888", (49.2827, -123.1207)),
    national("CA", Type::TollFree, "800", "+180055501", (true, true, true), "none"),
    national("CA", Type::TollFree, "833", "+183355501", (true, true, true), "none"),
    national("CA", Type::TollFree, "844", "+184455501", (true, true, true), "none"),
    national("CA", Type::TollFree, "855", "+185555501", (true, true, true), "none"),
    national("CA", Type::TollFree, "866", "+186655501", (true, true, true), "none"),
    national("CA", Type::TollFree, "877", "+187755501", (true, true, true), "none"),
    national("CA", Type::TollFree, "888", "+188855501", (true, true, true), "none"),
    Series { locality: "London", region: "", ..national("GB", Type::Local, "20", "+4420794600", (true, false, false), "any") },
    national("GB", Type::Mobile, "7700", "+4477009000", (true, true, false), "none"),
    national("GB", Type::TollFree, "808", "+4480815700", (true, false, false), "none"),
];

/// What Twilio's magic `+15005550006` is when bought: a US number that can
/// do everything.
static MAGIC: Series = national(
    "US",
    Type::Local,
    "500",
    "+150055500",
    (true, true, true),
    "none",
);

/// One number of the catalogue, with the series it belongs to.
pub struct Offer {
    series: &'static Series,
    pub phone_number: String,
}

impl Offer {
    /// Twilio's magic valid number, for sale to every session.
    pub fn magic(number: &str) -> Offer {
        Offer {
            series: &MAGIC,
            phone_number: number.to_string(),
        }
    }

    /// `(voice, sms, mms)`.
    pub fn capabilities(&self) -> (bool, bool, bool) {
        self.series.caps
    }

    pub fn iso_country(&self) -> &'static str {
        self.series.country
    }

    pub fn address_requirements(&self) -> &'static str {
        self.series.address_requirements
    }

    /// As Twilio's `AvailablePhoneNumber` resource has it.
    fn render(&self) -> Value {
        let s = self.series;
        let text = |t: &str| if t.is_empty() { Value::Null } else { json!(t) };
        let (voice, sms, mms) = s.caps;
        json!({
            "address_requirements": s.address_requirements,
            "beta": false,
            "capabilities": {"mms": mms, "sms": sms, "voice": voice, "fax": false},
            "friendly_name": friendly_name(&self.phone_number),
            "iso_country": s.country,
            "lata": text(s.lata),
            "latitude": s.lat_long.map(|l| l.0),
            "locality": text(s.locality),
            "longitude": s.lat_long.map(|l| l.1),
            "phone_number": self.phone_number,
            "postal_code": text(s.postal_code),
            "rate_center": text(s.rate_center),
            "region": text(s.region),
        })
    }
}

/// The catalogue's entry for `number`, if it is one of its numbers.
pub fn offer_of(number: &str) -> Option<Offer> {
    CATALOGUE.iter().find_map(|s| {
        let rest = number.strip_prefix(s.prefix)?;
        (rest.len() == 2 && rest.bytes().all(|b| b.is_ascii_digit())).then(|| Offer {
            series: s,
            phone_number: number.to_string(),
        })
    })
}

/// The first number in NANP area code `area` (US or CA Local) that the
/// session does not own, for buying by `AreaCode`.
pub fn first_in_area(call: &Call, area: &str) -> Result<Option<Offer>, TwilioError> {
    for s in CATALOGUE
        .iter()
        .filter(|s| s.kind == Type::Local && s.area == area && s.prefix.starts_with("+1"))
    {
        for n in numbers_of(s) {
            if !numbers::owns(call, &n)? {
                return Ok(Some(Offer {
                    series: s,
                    phone_number: n,
                }));
            }
        }
    }
    Ok(None)
}

fn numbers_of(s: &'static Series) -> impl Iterator<Item = String> {
    (0..100).map(move |i| format!("{}{i:02}", s.prefix))
}

/// `(415) 555-0100` for a North American number, else the E.164 number, as
/// Twilio writes `friendly_name`.
pub fn friendly_name(number: &str) -> String {
    match number.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => number.to_string(),
    }
}

/// `Contains`: digits and `*` (any one digit); letters count as the keypad
/// digit they are on (`STORE` = `78673`), matched anywhere in the number.
fn contains(number: &str, pattern: &str) -> bool {
    let want: Vec<Option<u8>> = pattern
        .bytes()
        .filter(|b| *b != b'+')
        .map(|b| match b.to_ascii_uppercase() {
            b'*' => None,
            d @ b'0'..=b'9' => Some(d),
            l => Some(keypad(l)),
        })
        .collect();
    let digits = number.trim_start_matches('+').as_bytes();
    want.is_empty()
        || digits
            .windows(want.len())
            .any(|w| w.iter().zip(&want).all(|(d, p)| p.is_none_or(|p| p == *d)))
}

fn keypad(letter: u8) -> u8 {
    match letter {
        b'A'..=b'C' => b'2',
        b'D'..=b'F' => b'3',
        b'G'..=b'I' => b'4',
        b'J'..=b'L' => b'5',
        b'M'..=b'O' => b'6',
        b'P'..=b'S' => b'7',
        b'T'..=b'V' => b'8',
        b'W'..=b'Z' => b'9',
        _ => 0,
    }
}

pub fn local(call: &Call) -> Result<Value, TwilioError> {
    search(call, Type::Local)
}

pub fn mobile(call: &Call) -> Result<Value, TwilioError> {
    search(call, Type::Mobile)
}

pub fn toll_free(call: &Call) -> Result<Value, TwilioError> {
    search(call, Type::TollFree)
}

/// `ListAvailablePhoneNumber{Local,Mobile,TollFree}`: the catalogue's
/// numbers of the country and type that match the filters and that the
/// session does not own, in order, one page of at most `PageSize`.
fn search(call: &Call, kind: Type) -> Result<Value, TwilioError> {
    let country = call.args.get("CountryCode").to_ascii_uppercase();
    let series: Vec<&'static Series> = CATALOGUE
        .iter()
        .filter(|s| s.country == country && s.kind == kind)
        .collect();
    if series.is_empty() {
        return Err(TwilioError::not_found(call.path));
    }
    let p = call.params;
    let flag = |k: &str| p.get(k).and_then(Value::as_bool);
    let area = call.code("AreaCode");
    let pattern = call.text("Contains");
    let region = call.text("InRegion");
    let postal = call.text("InPostalCode");
    let locality = call.text("InLocality");
    let size = paging::page_size(call)?;
    let mut found = Vec::new();
    for s in series {
        let (voice, sms, mms) = s.caps;
        let keep = area.as_deref().is_none_or(|a| a == s.area)
            && flag("VoiceEnabled").is_none_or(|f| f == voice)
            && flag("SmsEnabled").is_none_or(|f| f == sms)
            && flag("MmsEnabled").is_none_or(|f| f == mms)
            && region.is_none_or(|r| r.eq_ignore_ascii_case(s.region))
            && postal.is_none_or(|r| r.eq_ignore_ascii_case(s.postal_code))
            && locality.is_none_or(|r| r.eq_ignore_ascii_case(s.locality));
        if !keep {
            continue;
        }
        for n in numbers_of(s) {
            if found.len() == size {
                break;
            }
            if pattern.is_none_or(|c| contains(&n, c)) && !numbers::owns(call, &n)? {
                found.push(
                    Offer {
                        series: s,
                        phone_number: n,
                    }
                    .render(),
                );
            }
        }
    }
    Ok(paging::single(call, "available_phone_numbers", found, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Contains` reads `*` as any digit and letters as keypad digits.
    #[test]
    fn contains_matches_wildcards_and_keypad_letters() {
        assert!(contains("+14155550142", "555"));
        assert!(contains("+14155550142", "5*5"));
        assert!(contains("+14155550142", "JJJ")); // 555
        assert!(contains("+14155550142", "+1415"));
        assert!(!contains("+14155550142", "999"));
        assert!(!contains("+1415", "14155"));
    }

    /// Every series holds numbers a session can send from and nobody owns.
    #[test]
    fn every_catalogue_number_is_e164_and_found_again() {
        for s in CATALOGUE {
            for n in numbers_of(s) {
                assert!(super::super::phone::is_e164(&n), "{n}");
                assert_eq!(offer_of(&n).map(|o| o.phone_number), Some(n));
            }
        }
        assert_eq!(friendly_name("+14155550100"), "(415) 555-0100");
        assert_eq!(friendly_name("+447700900001"), "+447700900001");
    }
}
