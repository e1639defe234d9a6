//! Byte sizes for flags such as `--cache-bytes`: `768MiB`, `1G`, `64m`, `512k`
//! or plain bytes. Units are binary (1M = 1MiB = 1,048,576 bytes), as in
//! Docker's `--memory`, so `1G` means what a reader of `free -h` expects.

use std::fmt;

/// A number of bytes that prints in the largest unit that divides it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 4] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{name}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// Parses `<digits>[k|m|g|t][i][b]`, case-insensitive, spaces allowed around.
pub fn parse_byte_size(s: &str) -> Result<ByteSize, String> {
    const HINT: &str = "use e.g. 768MiB, 1G, 64m, 512k or plain bytes";
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("{s:?} is not a size; {HINT}"));
    }
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is too large"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(format!("{s:?} is not a size (unknown unit); {HINT}")),
    };
    n.checked_mul(scale)
        .map(ByteSize)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_in_any_case_or_plain_bytes() {
        for (s, n) in [
            ("0", 0),
            ("4096", 4096),
            ("512k", 512 << 10),
            ("64M", 64 << 20),
            ("64MiB", 64 << 20),
            ("64mb", 64 << 20),
            (" 1 G ", 1 << 30),
            ("2GiB", 2 << 30),
            ("1t", 1 << 40),
        ] {
            assert_eq!(parse_byte_size(s), Ok(ByteSize(n)), "{s}");
        }
    }

    #[test]
    fn sizes_refuse_nonsense_negatives_fractions_and_overflow() {
        for bad in [
            "",
            "M",
            "-5M",
            "1.5G",
            "5x",
            "5 MiBs",
            "99999999999999999999",
            "99999999999T",
        ] {
            assert!(parse_byte_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_print_in_the_largest_exact_unit_and_parse_back() {
        for n in [
            0,
            1000,
            1 << 10,
            768 << 20,
            64 << 20,
            3 << 30,
            (1 << 30) + 1,
        ] {
            let shown = ByteSize(n).to_string();
            assert_eq!(parse_byte_size(&shown), Ok(ByteSize(n)), "{shown}");
        }
        assert_eq!(ByteSize(768 << 20).to_string(), "768MiB");
    }
}
