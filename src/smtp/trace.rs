//! The trace header we prepend to every accepted message (RFC 5321 4.4) and the RFC 5322 date.

use std::net::IpAddr;

/// Builds our `Received:` header (folded, CRLF-terminated).
pub fn received_header(helo: &str, peer: IpAddr, hostname: &str, with: &str, queue_id: &str, now_secs: u64) -> String {
    let helo: String = helo
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '(' && *c != ')')
        .take(255)
        .collect();
    format!(
        "Received: from {helo} ([{peer}])\r\n\tby {hostname} (aupgate) with {with} id {queue_id};\r\n\t{}\r\n",
        rfc5322_date(now_secs)
    )
}

/// `Mon, 23 Nov 2026 15:37:12 +0000`.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_448_232), "Mon, 23 Nov 2026 15:37:12 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn helo_cannot_break_the_header() {
        let header = received_header(
            "evil\r\nX-Injected: 1",
            "192.0.2.1".parse().unwrap(),
            "gw",
            "ESMTP",
            "ID1",
            0,
        );
        assert_eq!(header.matches("\r\n").count(), 3);
        assert!(!header.contains("\r\nX-Injected"));
    }
}
