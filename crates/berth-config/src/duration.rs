//! Go duration strings (`10s`, `3000ms`, `336h0m0s`, `1.5h`), read and written.

use std::time::Duration;

/// Parses a duration the way Go's `time.ParseDuration` does: a sequence of
/// decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`), such as `300ms`, `1h30m` or `336h0m0s`. `0`
/// alone is allowed. Negative durations have no meaning in a registry
/// configuration and are refused.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(berth_config::parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(berth_config::parse_go_duration("10").is_err());
/// ```
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "`{text}` is not a duration; write a number and a unit, e.g. `10s`, `500ms` or `1h30m`"
        )
    };
    let mut s = text;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    // Go caps durations at i64 nanoseconds (about 292 years).
    const LIMIT: u128 = i64::MAX as u128;
    let mut total: u128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .bytes()
            .take_while(|c| *c != b'.' && !c.is_ascii_digit())
            .count();
        if unit_len == 0 {
            return Err(format!(
                "`{text}` has a number without a unit; add one, e.g. `{text}s` for seconds (Distribution reads a bare number as nanoseconds only when it is not quoted)"
            ));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown unit `{unit}`; use ns, us, ms, s, m or h"
                ));
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part
                .parse::<u128>()
                .ok()
                .filter(|v| *v <= LIMIT)
                .ok_or_else(|| format!("`{text}` is too long a duration"))?
        };
        let mut value = whole
            .checked_mul(nanos_per_unit)
            .filter(|v| *v <= LIMIT)
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        if !frac_part.is_empty() {
            // Exact decimal arithmetic on at most 30 digits; finer digits cannot
            // change a nanosecond count.
            let digits = &frac_part[..frac_part.len().min(30)];
            let numerator: u128 = digits.parse().unwrap_or(0);
            let denominator = 10u128.pow(digits.len() as u32);
            value += numerator.saturating_mul(nanos_per_unit) / denominator;
        }
        total += value;
        if total > LIMIT {
            return Err(format!("`{text}` is too long a duration"));
        }
    }
    if negative && total > 0 {
        return Err(format!(
            "`{text}` is negative; durations in a registry configuration must be zero or more"
        ));
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Writes a duration compactly in a form [`parse_go_duration`] and Go both
/// read back: `10s`, `1h30m`, `168h`, `1s500ms`, `0s`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(berth_config::format_go_duration(Duration::from_secs(5400)), "1h30m");
/// ```
pub fn format_go_duration(duration: Duration) -> String {
    let mut nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        let count = nanos / size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            nanos -= count * size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        parse_go_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(d("10s"), Duration::from_secs(10));
        assert_eq!(d("3000ms"), Duration::from_secs(3));
        assert_eq!(d("336h0m0s"), Duration::from_secs(336 * 3600));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("300us"), Duration::from_micros(300));
        assert_eq!(d("300µs"), Duration::from_micros(300));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("+5m"), Duration::from_secs(300));
        assert_eq!(d("-0s"), Duration::ZERO);
        assert_eq!(d("1.000000001s"), Duration::new(1, 1));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in ["", "10", "s", "1x", "1.s.", ".s", "--1s", "1h 30m", "abc"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} should fail");
        }
        assert!(parse_go_duration("10").unwrap_err().contains("unit"));
        assert!(parse_go_duration("-1s").unwrap_err().contains("negative"));
        assert!(
            parse_go_duration("3000000h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn formats_compactly_and_round_trips() {
        for (secs, text) in [(0, "0s"), (10, "10s"), (5400, "1h30m"), (604_800, "168h")] {
            assert_eq!(format_go_duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1s500ms");
        for text in ["1s500ms", "336h", "7ns", "1h1m1s1ms1us1ns"] {
            assert_eq!(format_go_duration(d(text)), text);
        }
    }
}
