//! How long reading one tenant's usage takes in a store holding 1,000 tenants, their counters,
//! campaigns and mail-bomb logs, and a day of audit records (one a second). Goal (issue 16,
//! item 8): under 5 ms. Ignored by default (it fills a store first); run with
//! `cargo test --release --test admin_usage_perf -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use aupgate::admin::usage;
use aupgate::policy::profile::Profile;
use aupgate::store::rocks::RocksStore;
use aupgate::store::{AuditRecord, Key, RateStore};

const TENANTS: usize = 1_000;
const CAMPAIGNS_PER_TENANT: u64 = 5;
const RECIPIENTS_PER_CAMPAIGN: u64 = 20;
const AUDIT_PER_DAY: u64 = 86_400;
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

const PROFILE: &str = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 1000\nmessages_per_day = 10000\nrecipients_per_hour = 5000\nrecipients_per_day = 50000\n[bulk]\nenabled = true\nmax_recipients = 500\nwindow = \"24h\"\n[mail_bomb]\nenabled = true\nmax_messages = 10\nwindow = \"24h\"\nmax_messages_per_domain = 50\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fills a store with 1,000 tenants first; run with --ignored --release"]
async fn reading_one_tenants_usage_is_fast() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = RocksStore::open(dir.path(), DAY * 2).expect("open");
    let profile = Profile::parse(PROFILE).expect("profile");
    let start = aupgate::queue::now_ms() - DAY.as_millis() as u64;
    let now = aupgate::queue::now_ms();
    let filling = Instant::now();
    for t in 0..TENANTS {
        let tenant = format!("tenant-{t:04}");
        for c in 0..CAMPAIGNS_PER_TENANT {
            let campaign = format!("{:016x}", t as u64 * 100 + c);
            let at = start + c * 1_000;
            store
                .campaign_lookup_or_insert(&tenant, &[t as u64 * 100 + c], &campaign, at, DAY, &[])
                .await
                .unwrap();
            for r in 0..RECIPIENTS_PER_CAMPAIGN {
                let rcpt = format!("r{r}@dest{}.example", r % 3);
                let at = now - 3_600_000 + c * 10_000 + r;
                store
                    .set_check_and_add(
                        &Key::new("bulk", &tenant).part(&campaign),
                        rcpt.as_bytes(),
                        at,
                        DAY,
                        10_000,
                    )
                    .await
                    .unwrap();
                store
                    .events_check_and_add(&Key::new("mail_bomb", &tenant).part(&campaign).part(&rcpt), at, DAY, 10)
                    .await
                    .unwrap();
                for (kind, window) in [
                    ("quota.messages.hour", HOUR),
                    ("quota.messages.day", DAY),
                    ("quota.recipients.hour", HOUR),
                    ("quota.recipients.day", DAY),
                ] {
                    store
                        .counter_add(&Key::new(kind, &tenant), 1, at, window)
                        .await
                        .unwrap();
                }
            }
        }
    }
    // A day of audit records: the tenant being read, one a second, and as many spread over the
    // others.
    for i in 0..AUDIT_PER_DAY {
        let record = AuditRecord {
            at: start + i * 1_000,
            actor: "policy".into(),
            action: "accept".into(),
            target: format!("Q{i:012}"),
            reason: String::new(),
            detail: serde_json::json!({"recipients": 3}),
        };
        store.audit_append("tenant-0500", &record).await.unwrap();
        store
            .audit_append(&format!("tenant-{:04}", i as usize % TENANTS), &record)
            .await
            .unwrap();
    }
    store.sync().await.unwrap();
    eprintln!("filled in {:.1} s", filling.elapsed().as_secs_f64());

    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..200 {
        let started = Instant::now();
        let read = usage::read(&store, "tenant-0500", &profile, aupgate::queue::now_ms())
            .await
            .unwrap();
        times.push(started.elapsed());
        last = Some(read);
    }
    let read = last.unwrap();
    assert_eq!(read.quotas.len(), 4);
    assert_eq!(
        read.bulk.as_ref().unwrap().campaigns.len(),
        CAMPAIGNS_PER_TENANT as usize
    );
    assert_eq!(read.mail_bomb.as_ref().unwrap().recipients.len(), usage::TOP);
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    eprintln!(
        "usage read of one tenant among {TENANTS}: median {:.3} ms, p99 {:.3} ms",
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    assert!(median < Duration::from_millis(5), "median {median:?}");
}
