//! Durations as written in bots and transcripts: `30s`, `5m`, `2h`, `1d`, `1h30m`.

/// Seconds in `text`, or `None` when it is not a duration (or absurdly long).
pub(crate) fn parse_seconds(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v))?;
        digits.clear();
    }
    (digits.is_empty() && total > 0).then_some(total)
}

/// Seconds in the largest exact units: `90` → `1m30s`, `5400` → `1h30m`.
pub(crate) fn format_seconds(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let mut rest = seconds;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        assert_eq!(parse_seconds("1h30m"), Some(5_400));
        assert_eq!(parse_seconds("90s"), Some(90));
        assert_eq!(parse_seconds("3x"), None);
        assert_eq!(parse_seconds("5"), None);
        assert_eq!(parse_seconds("99999999999999999999d"), None);
        assert_eq!(format_seconds(5_400), "1h30m");
        assert_eq!(parse_seconds(&format_seconds(93_784)), Some(93_784));
    }
}
