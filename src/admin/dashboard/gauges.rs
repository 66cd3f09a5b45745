//! The usage figures of `admin::usage` (the API's own read) put in a tenant's words: a gauge
//! per quota ("12 of 100 messages in the last hour"), when the next message fits, and the
//! campaigns and recipients nearest their limits. It formats; it computes no figure.

use super::charts::timestamp;
use crate::admin::usage::Usage;

/// One quota as a gauge.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    /// The rule a refusal would name (`quota.messages_per_hour`), also the gauge's HTML id.
    pub rule: String,
    /// "Messages per hour".
    pub title: String,
    pub used: u64,
    pub limit: u64,
    /// `used / limit` in percent, as shown ("12%").
    pub percent: String,
    /// The bar's length out of 100 (capped).
    pub bar: u32,
    /// `bar-ok`, `bar-warn` or `bar-full`.
    pub class: &'static str,
    /// "12 of 100 messages in the last hour."
    pub sentence: String,
    /// "One more fits now." / "The next one fits at … (in 23 minutes)."
    pub resets: String,
}

/// A campaign or recipient against its limit.
#[derive(Clone, Debug, PartialEq)]
pub struct NearLimit {
    pub name: String,
    /// The recipient or domain (mail-bomb rows); empty for campaigns.
    pub target: String,
    pub count: u64,
    pub percent: String,
}

/// Everything the page shows of the usage.
pub struct UsageView {
    pub gauges: Vec<Gauge>,
    pub campaigns: Vec<NearLimit>,
    pub bulk_limit: Option<u64>,
    pub bomb_targets: Vec<NearLimit>,
    pub bomb_limit: Option<u64>,
}

pub fn gauges(usage: &Usage) -> UsageView {
    let gauges = usage
        .quotas
        .iter()
        .map(|q| {
            let window = window_words(q.window_seconds);
            let unit = if q.counts == "recipients" {
                "recipients"
            } else {
                "messages"
            };
            let one = if q.counts == "recipients" {
                "recipient"
            } else {
                "message"
            };
            Gauge {
                rule: q.rule.clone(),
                title: format!("{} per {}", capitalised(unit), per_words(q.window_seconds)),
                used: q.used,
                limit: q.limit,
                percent: format!("{:.0}%", q.percent),
                bar: q.percent.clamp(0.0, 100.0) as u32,
                class: if q.percent >= 100.0 {
                    "bar-full"
                } else if q.percent >= 80.0 {
                    "bar-warn"
                } else {
                    "bar-ok"
                },
                sentence: format!("{} of {} {unit} in the last {window}.", q.used, q.limit),
                resets: if q.resets_at <= usage.taken_at {
                    format!("One more {one} fits now.")
                } else {
                    format!(
                        "The next {one} fits at {} (in {}).",
                        timestamp(q.resets_at),
                        duration_words(q.resets_at - usage.taken_at)
                    )
                },
            }
        })
        .collect();
    let campaigns = usage
        .bulk
        .as_ref()
        .map(|b| {
            b.campaigns
                .iter()
                .map(|c| NearLimit {
                    name: c.campaign.clone(),
                    target: String::new(),
                    count: c.recipients,
                    percent: format!("{:.0}%", c.percent),
                })
                .collect()
        })
        .unwrap_or_default();
    let bomb_targets = usage
        .mail_bomb
        .as_ref()
        .map(|m| {
            m.recipients
                .iter()
                .map(|t| NearLimit {
                    name: t.campaign.clone(),
                    target: t.target.clone(),
                    count: t.messages,
                    percent: format!("{:.0}%", t.percent),
                })
                .collect()
        })
        .unwrap_or_default();
    UsageView {
        gauges,
        campaigns,
        bulk_limit: usage.bulk.as_ref().map(|b| b.limit),
        bomb_targets,
        bomb_limit: usage.mail_bomb.as_ref().map(|m| m.limit),
    }
}

/// The nearest limit of a usage in percent (the overview's column).
pub fn nearest_percent(usage: &Usage) -> f64 {
    let quotas = usage.quotas.iter().map(|q| q.percent);
    let bulk = usage.bulk.iter().flat_map(|b| b.campaigns.iter().map(|c| c.percent));
    let bomb = usage
        .mail_bomb
        .iter()
        .flat_map(|m| m.recipients.iter().map(|t| t.percent));
    quotas.chain(bulk).chain(bomb).fold(0.0, f64::max)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn per_words(seconds: u64) -> String {
    match seconds {
        3_600 => "hour".into(),
        86_400 => "day".into(),
        _ => window_words(seconds),
    }
}

fn window_words(seconds: u64) -> String {
    match seconds {
        3_600 => "hour".into(),
        86_400 => "24 hours".into(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// "23 minutes", "2 h 5 min", "under a minute".
pub fn duration_words(ms: u64) -> String {
    let minutes = ms.div_ceil(60_000);
    match minutes {
        0 | 1 if ms < 60_000 => "under a minute".into(),
        m if m < 60 => format!("{m} minutes"),
        m => format!("{} h {} min", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_windows_read_naturally() {
        assert_eq!(duration_words(30_000), "under a minute");
        assert_eq!(duration_words(23 * 60_000), "23 minutes");
        assert_eq!(duration_words(125 * 60_000), "2 h 5 min");
        assert_eq!(window_words(3_600), "hour");
        assert_eq!(window_words(7 * 86_400), "7 days");
        assert_eq!(per_words(86_400), "day");
        assert_eq!(capitalised("messages"), "Messages");
    }
}
