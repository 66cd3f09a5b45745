//! One conformance suite, run against every backend: RocksDB, a standalone `redis-server` and a
//! real 3-node Redis Cluster. Each case uses its own tenant names, so cases share one store.

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use aupgate::store::redis::RedisStore;
use aupgate::store::rocks::RocksStore;
use aupgate::store::window::span;
use aupgate::store::{
    ApiToken, AuditRecord, Block, BlockScope, Charge, Event, Key, Lift, RateStore, Suppression, TenantChange,
    TenantCredential, TenantDomain, TenantField, TenantLimits, TenantRecord, TenantState,
};
use aupgate::store::{ComplaintPut, ComplaintScope, MessageOrigin, StoredComplaint};
use store_support::{now_ms, RedisCluster, RedisServer};

type Store = Arc<dyn RateStore>;

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);
const DAY_MS: u64 = 86_400_000;

async fn counters(s: Store, t: &str) {
    let k = Key::new("quota.rcpts", t);
    let t0 = now_ms();
    s.counter_add(&k, 3, t0, DAY).await.expect("add");
    s.counter_add(&k, 4, t0 + 1000, DAY).await.expect("add");
    assert_eq!(s.counter_get(&k, t0 + 1000, DAY).await.expect("get"), 7);
    // Still counted just before the window ends.
    assert_eq!(s.counter_get(&k, t0 + DAY_MS - 1, DAY).await.expect("get"), 7);
    // Error bound: gone at most one bucket (W/60) after the window.
    let b = span(t0, DAY_MS).size;
    assert_eq!(s.counter_get(&k, t0 + 1000 + DAY_MS + b, DAY).await.expect("get"), 0);
    // Check-and-charge against a limit of 10.
    let k2 = Key::new("quota.msgs", t);
    for i in 1..=10u64 {
        assert_eq!(
            s.counter_check_and_add(&k2, 1, 10, t0, DAY).await.expect("cac"),
            Charge::Charged { total: i }
        );
    }
    match s.counter_check_and_add(&k2, 1, 10, t0 + 5, DAY).await.expect("cac") {
        Charge::Refused {
            total: 10,
            retry_after_ms: Some(r),
        } => {
            assert!(r >= DAY_MS - 5 && r <= DAY_MS + b, "retry {r}");
            // Waiting that long is enough.
            assert!(matches!(
                s.counter_check_and_add(&k2, 1, 10, t0 + 5 + r, DAY).await.expect("cac"),
                Charge::Charged { total: 1 }
            ));
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    assert!(matches!(
        s.counter_check_and_add(&k2, 11, 10, t0, DAY).await.expect("cac"),
        Charge::Refused {
            retry_after_ms: None,
            ..
        }
    ));
    assert!(
        s.counter_get(&k, t0, Duration::ZERO).await.is_err(),
        "zero window is an error"
    );
}

async fn distinct_sets(s: Store, t: &str) {
    let k = Key::new("bulk.rcpts", t).part("campaign-1");
    let t0 = now_ms();
    for (i, m) in ["a", "b", "c"].iter().enumerate() {
        let r = s
            .set_check_and_add(&k, m.as_bytes(), t0 + i as u64, DAY, 3)
            .await
            .expect("add");
        assert!(r.admitted && !r.already_member);
        assert_eq!(r.distinct, i as u32 + 1);
    }
    let r = s.set_check_and_add(&k, b"d", t0 + 10, DAY, 3).await.expect("add");
    assert!(!r.admitted && !r.already_member, "{r:?}");
    assert_eq!(r.distinct, 3);
    let r = s.set_check_and_add(&k, b"a", t0 + 20, DAY, 3).await.expect("add");
    assert!(r.admitted && r.already_member, "{r:?}");
    assert_eq!(s.set_count(&k, t0 + 20, DAY).await.expect("count"), 3);
    // Exact window: "b" (at t0+1) counts at t0+1+W-1, not at t0+1+W.
    assert_eq!(s.set_count(&k, t0 + DAY_MS, DAY).await.expect("count"), 3);
    assert_eq!(s.set_count(&k, t0 + 1 + DAY_MS, DAY).await.expect("count"), 2);
    // "d" refused earlier fits once b and c are out of the window.
    let r = s
        .set_check_and_add(&k, b"d", t0 + 2 + DAY_MS, DAY, 3)
        .await
        .expect("add");
    assert!(r.admitted && !r.already_member);
    assert_eq!(r.distinct, 2, "a (refreshed at t0+20) and d");

    // A large set slides: one new member every 10 ms in a 1 s window keeps exactly 100 live.
    let k = Key::new("bulk.rcpts", t).part("campaign-big");
    let w = Duration::from_millis(1000);
    for i in 0..400u64 {
        let r = s
            .set_check_and_add(&k, format!("m{i}").as_bytes(), t0 + i * 10, w, 10_000)
            .await
            .expect("add");
        assert!(r.admitted && !r.already_member, "{i}: {r:?}");
        assert_eq!(r.distinct, (i + 1).min(100) as u32, "{i}");
    }
    assert_eq!(s.set_count(&k, t0 + 3990, w).await.expect("count"), 100);
    assert_eq!(s.set_count(&k, t0 + 4500, w).await.expect("count"), 49);
    // A member seen again moves forward in time and is not counted twice.
    let r = s
        .set_check_and_add(&k, b"m390", t0 + 4500, w, 10_000)
        .await
        .expect("add");
    assert!(r.admitted && r.already_member, "{r:?}");
    assert_eq!(r.distinct, 49);
    assert_eq!(
        s.set_count(&k, t0 + 5000, w).await.expect("count"),
        1,
        "only m390 is left"
    );
    // Long after, the set is empty and fills again from zero.
    let r = s
        .set_check_and_add(&k, b"m0", t0 + 60_000, w, 10_000)
        .await
        .expect("add");
    assert!(r.admitted && !r.already_member && r.distinct == 1, "{r:?}");
}

async fn event_logs(s: Store, t: &str) {
    // Mail bomb: more than 10 in ANY 24 hours.
    let k = Key::new("bomb", t).part("campaign").part("rcpt-hash");
    let t0 = now_ms();
    for i in 0..10u64 {
        let r = s
            .events_check_and_add(&k, t0 + i * 3_600_000, DAY, 10)
            .await
            .expect("ev");
        assert!(r.admitted, "{i}");
        assert_eq!(r.count, i as u32 + 1);
    }
    let now = t0 + 10 * 3_600_000;
    let r = s.events_check_and_add(&k, now, DAY, 10).await.expect("ev");
    assert!(!r.admitted);
    assert_eq!(r.count, 10);
    assert_eq!(r.retry_after_ms, Some(t0 + DAY_MS - now));
    // At t0 + W the first occurrence left the window: one more fits, exactly.
    let r = s.events_check_and_add(&k, t0 + DAY_MS - 1, DAY, 10).await.expect("ev");
    assert!(!r.admitted);
    let r = s.events_check_and_add(&k, t0 + DAY_MS, DAY, 10).await.expect("ev");
    assert!(r.admitted);
    assert_eq!(r.count, 10);
    assert_eq!(s.events_count(&k, t0 + DAY_MS, DAY).await.expect("count"), 10);
    // A set and an event log under one key do not mix.
    assert_eq!(s.set_count(&k, t0, DAY).await.expect("count"), 0);
}

/// Charges of a message that was not accepted after all are taken back.
async fn releases(s: Store, t: &str) {
    let t0 = now_ms();
    // A set: a new member released is gone and frees its slot; a member seen again since stays.
    let k = Key::new("bulk.rcpts", t).part("campaign-r");
    s.set_check_and_add(&k, b"a", t0, DAY, 2).await.expect("add");
    let r = s.set_check_and_add(&k, b"b", t0 + 1, DAY, 2).await.expect("add");
    assert!(r.admitted && !r.already_member && r.distinct == 2, "{r:?}");
    assert!(
        !s.set_check_and_add(&k, b"c", t0 + 2, DAY, 2)
            .await
            .expect("add")
            .admitted
    );
    s.set_release(&k, b"b", t0 + 1, DAY).await.expect("release");
    assert_eq!(s.set_count(&k, t0 + 3, DAY).await.expect("count"), 1);
    let r = s.set_check_and_add(&k, b"c", t0 + 4, DAY, 2).await.expect("add");
    assert!(r.admitted && !r.already_member && r.distinct == 2, "{r:?}");
    // "a" was seen again at t0+5: a release of its charge at t0 leaves it.
    s.set_check_and_add(&k, b"a", t0 + 5, DAY, 2).await.expect("add");
    s.set_release(&k, b"a", t0, DAY).await.expect("release");
    s.set_release(&k, b"never", t0, DAY)
        .await
        .expect("release of a stranger");
    assert_eq!(s.set_count(&k, t0 + 6, DAY).await.expect("count"), 2);
    // Touched again in the very millisecond it was added: the release leaves it.
    s.set_check_and_add(&k, b"e", t0 + 6, DAY, 3).await.expect("add");
    let again = s.set_check_and_add(&k, b"e", t0 + 6, DAY, 3).await.expect("add");
    assert!(again.admitted && again.already_member, "{again:?}");
    s.set_release(&k, b"e", t0 + 6, DAY).await.expect("release");
    assert_eq!(s.set_count(&k, t0 + 7, DAY).await.expect("count"), 3);
    // Releasing every member empties the set, and it fills again from zero.
    s.set_release(&k, b"a", t0 + 5, DAY).await.expect("release");
    s.set_release(&k, b"c", t0 + 4, DAY).await.expect("release");
    s.set_release(&k, b"e", t0 + 7, DAY).await.expect("release");
    assert_eq!(s.set_count(&k, t0 + 7, DAY).await.expect("count"), 0);
    let r = s.set_check_and_add(&k, b"d", t0 + 8, DAY, 2).await.expect("add");
    assert!(r.admitted && r.distinct == 1, "{r:?}");

    // An event log: one occurrence at that time is taken back, the others stay.
    let k = Key::new("bomb", t).part("campaign-r").part("rcpt");
    for at in [t0, t0 + 1, t0 + 1] {
        assert!(s.events_check_and_add(&k, at, DAY, 3).await.expect("ev").admitted);
    }
    assert!(!s.events_check_and_add(&k, t0 + 2, DAY, 3).await.expect("ev").admitted);
    s.events_release(&k, t0 + 1, DAY).await.expect("release");
    assert_eq!(s.events_count(&k, t0 + 2, DAY).await.expect("count"), 2);
    s.events_release(&k, t0 + 9, DAY).await.expect("release of nothing");
    assert_eq!(s.events_count(&k, t0 + 2, DAY).await.expect("count"), 2);
    assert!(s.events_check_and_add(&k, t0 + 3, DAY, 3).await.expect("ev").admitted);
    for at in [t0, t0 + 1, t0 + 3] {
        s.events_release(&k, at, DAY).await.expect("release");
    }
    assert_eq!(s.events_count(&k, t0 + 4, DAY).await.expect("count"), 0);

    // A counter: the charge is taken back from the bucket it went to, never below zero.
    let k = Key::new("quota.msgs", t).part("released");
    let b = span(t0, DAY_MS).size;
    // Away from a bucket's edge, so t0 + 2 is still in t0's bucket.
    let t0 = (t0 / b) * b + 100;
    // Two charged in an older bucket, two in the current one.
    let old = t0 - b;
    assert!(matches!(
        s.counter_check_and_add(&k, 2, 4, old, DAY).await.expect("cac"),
        Charge::Charged { total: 2 }
    ));
    assert!(matches!(
        s.counter_check_and_add(&k, 2, 4, t0, DAY).await.expect("cac"),
        Charge::Charged { total: 4 }
    ));
    assert!(matches!(
        s.counter_check_and_add(&k, 1, 4, t0, DAY).await.expect("cac"),
        Charge::Refused { total: 4, .. }
    ));
    // Released from the current bucket: room for one again, checked by the same arithmetic.
    s.counter_release(&k, 1, t0, DAY).await.expect("release");
    assert_eq!(s.counter_get(&k, t0, DAY).await.expect("get"), 3);
    assert!(matches!(
        s.counter_check_and_add(&k, 1, 4, t0 + 1, DAY).await.expect("cac"),
        Charge::Charged { total: 4 }
    ));
    // A release goes to the bucket of its own time: the old bucket loses it, the new keeps its 2.
    s.counter_release(&k, 2, old, DAY).await.expect("release");
    let window = s.counter_window(&k, t0 + 1, DAY).await.expect("window");
    assert_eq!(window.buckets, vec![(t0 / b, 2)], "{window:?}");
    // More than the bucket holds empties it; nothing goes below zero, a missing bucket stays.
    s.counter_release(&k, 10, t0, DAY).await.expect("release");
    s.counter_release(&k, 10, old, DAY)
        .await
        .expect("release of an emptied bucket");
    assert_eq!(s.counter_get(&k, t0 + 1, DAY).await.expect("get"), 0);
    assert!(matches!(
        s.counter_check_and_add(&k, 4, 4, t0 + 2, DAY).await.expect("cac"),
        Charge::Charged { total: 4 }
    ));
}

async fn forged_keys(s: Store, t: &str) {
    let now = now_ms();
    let a = format!("{t}a:b");
    let b = format!("{t}a");
    let k1 = Key::new("rcpt", &a).part("x");
    let k2 = Key::new("rcpt", &b).part("b:x");
    let k3 = Key::new("rcpt", &b).part("b").part("x");
    let k4 = Key::new("rcpt", &format!("{t}}}{{x")).part("x");
    s.counter_add(&k1, 1, now, DAY).await.expect("add");
    s.counter_add(&k2, 2, now, DAY).await.expect("add");
    s.counter_add(&k3, 4, now, DAY).await.expect("add");
    s.counter_add(&k4, 8, now, DAY).await.expect("add");
    for (k, want) in [(&k1, 1), (&k2, 2), (&k3, 4), (&k4, 8)] {
        assert_eq!(s.counter_get(k, now, DAY).await.expect("get"), want, "{k:?}");
    }
    s.suppression_add(
        &a,
        &Suppression {
            address: "x".into(),
            at: now,
            reason: "r".into(),
        },
    )
    .await
    .expect("add");
    assert!(!s.suppression_contains(&b, "b:x").await.expect("contains"));
    assert!(!s.suppression_contains(&b, "x").await.expect("contains"));
}

fn acme(id: &str) -> TenantRecord {
    let mut rec = TenantRecord::new(id, "Acme");
    rec.contact = Some("abuse@acme.example".into());
    rec.profile = "strict".into();
    rec.limits.messages_per_hour = Some(50);
    rec.networks = vec!["192.0.2.0/24".into(), "2001:db8::/32".into()];
    rec.domains = vec![TenantDomain {
        domain: "acme.example".into(),
        token: String::new(),
        verified: true,
    }];
    rec.credentials = vec![TenantCredential {
        username: format!("{id}-user"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    }];
    rec
}

async fn tenants(s: Store, t: &str) {
    let rec = acme(&format!("{t}-acme"));
    assert_eq!(s.tenant_get(&rec.id).await.expect("get"), None);
    let generation = s.tenant_generation().await.expect("generation");
    assert!(s.tenant_create(&rec).await.expect("create"));
    assert_ne!(
        s.tenant_generation().await.expect("generation"),
        generation,
        "a write moves it"
    );
    assert_eq!(s.tenant_get(&rec.id).await.expect("get"), Some(rec.clone()));
    // A second create of the id is refused and changes nothing; a seed too.
    let mut again = TenantRecord::new(&rec.id, "Other");
    again.state = TenantState::Suspended;
    assert!(!s.tenant_create(&again).await.expect("create"));
    assert!(!s.tenant_seed(&again).await.expect("seed"));
    assert_eq!(s.tenant_get(&rec.id).await.expect("get"), Some(rec.clone()));
    let other = TenantRecord::new(&format!("{t}-zed"), "Zed");
    assert!(
        s.tenant_seed(&other).await.expect("seed"),
        "a seed creates a missing tenant"
    );
    let list: Vec<_> = s
        .tenant_list()
        .await
        .expect("list")
        .into_iter()
        .filter(|r| r.id.starts_with(t))
        .collect();
    assert_eq!(list, vec![rec.clone(), other.clone()]);
    assert!(s.tenant_delete(&other.id).await.expect("delete"));
    assert!(!s.tenant_delete(&other.id).await.expect("delete"), "gone");
    assert_eq!(s.tenant_get(&other.id).await.expect("get"), None);
    assert!(
        !s.tenant_update(&other.id, &[TenantChange::Set(TenantField::Name("x".into()))])
            .await
            .expect("update"),
        "no update of a deleted tenant"
    );
    assert_eq!(s.tenant_get(&other.id).await.expect("get"), None, "nothing resurrected");
    assert!(s.tenant_create(&other).await.expect("create"), "the id is free again");
}

/// Each change writes its own field: the others stay as they were.
async fn tenant_fields(s: Store, t: &str) {
    let id = format!("{t}-acme");
    let mut want = acme(&id);
    assert!(s.tenant_create(&want).await.expect("create"));
    let changes = [
        TenantChange::Set(TenantField::Name("Acme Corp".into())),
        TenantChange::Set(TenantField::Contact(None)),
        TenantChange::Set(TenantField::Profile("default".into())),
        TenantChange::Set(TenantField::Networks(vec!["198.51.100.7".into()])),
        TenantChange::Set(TenantField::State(TenantState::FinalWarning)),
        TenantChange::Set(TenantField::LadderSince(1234)),
        TenantChange::PutDomain(TenantDomain {
            domain: "b.example".into(),
            token: "tok".into(),
            verified: false,
        }),
        TenantChange::RemoveDomain("acme.example".into()),
        TenantChange::PutCredential(TenantCredential {
            username: "second".into(),
            password_hash: "h2".into(),
        }),
    ];
    assert!(s.tenant_update(&id, &changes).await.expect("update"));
    want.name = "Acme Corp".into();
    want.contact = None;
    want.profile = "default".into();
    want.networks = vec!["198.51.100.7".into()];
    want.state = TenantState::FinalWarning;
    want.ladder_since = Some(1234);
    want.domains = vec![TenantDomain {
        domain: "b.example".into(),
        token: "tok".into(),
        verified: false,
    }];
    want.credentials.push(TenantCredential {
        username: "second".into(),
        password_hash: "h2".into(),
    });
    want.credentials.sort_by(|a, b| a.username.cmp(&b.username));
    assert_eq!(s.tenant_get(&id).await.expect("get"), Some(want.clone()));
    let limits = TenantLimits {
        bulk_max_recipients: Some(5),
        ..Default::default()
    };
    assert!(s
        .tenant_update(
            &id,
            &[
                TenantChange::Set(TenantField::Limits(limits)),
                TenantChange::RemoveCredential(format!("{id}-user")),
            ]
        )
        .await
        .expect("update"));
    want.limits = limits;
    want.credentials.retain(|c| c.username == "second");
    assert_eq!(s.tenant_get(&id).await.expect("get"), Some(want));
}

/// Writers changing different fields at once (a block's state, domain verifications, an API
/// update of profile and networks, credentials) all keep their change.
async fn tenant_concurrent_writers(s: Store, t: &str) {
    let id = format!("{t}-busy");
    assert!(s.tenant_create(&TenantRecord::new(&id, "Busy")).await.expect("create"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40u32 {
        let s = Arc::clone(&s);
        let id = id.clone();
        tasks.spawn(async move {
            let change = match i % 4 {
                0 => TenantChange::PutDomain(TenantDomain {
                    domain: format!("d{i}.example"),
                    token: format!("t{i}"),
                    verified: true,
                }),
                1 => TenantChange::PutCredential(TenantCredential {
                    username: format!("u{i}"),
                    password_hash: format!("h{i}"),
                }),
                2 => TenantChange::Set(TenantField::Profile(format!("p{i}"))),
                _ => TenantChange::Set(TenantField::State(TenantState::Suspended)),
            };
            s.tenant_update(&id, &[change]).await
        });
    }
    tasks.spawn({
        let s = Arc::clone(&s);
        let id = id.clone();
        async move {
            s.tenant_update(
                &id,
                &[TenantChange::Set(TenantField::Networks(vec!["10.9.0.0/16".into()]))],
            )
            .await
        }
    });
    while let Some(r) = tasks.join_next().await {
        assert!(r.expect("join").expect("store"), "every update found the tenant");
    }
    let rec = s.tenant_get(&id).await.expect("get").expect("tenant");
    assert_eq!(rec.domains.len(), 10, "every verification stays");
    assert_eq!(rec.credentials.len(), 10, "every credential stays");
    assert_eq!(rec.state, TenantState::Suspended);
    assert_eq!(rec.networks, vec!["10.9.0.0/16".to_string()]);
    assert!(rec.profile.starts_with('p'));
    assert_eq!(rec.name, "Busy");
}

async fn blocks_and_audit(s: Store, t: &str) {
    let at = now_ms();
    let block = Block {
        tenant: t.into(),
        scope: BlockScope::Sender,
        target: "bob@x.example".into(),
        by: "ops:alice".into(),
        reason: "phishing".into(),
        at,
        expires_at: Some(at + DAY_MS),
    };
    s.block_add(&block).await.expect("add");
    let whole = Block {
        scope: BlockScope::Tenant,
        target: String::new(),
        ..block.clone()
    };
    s.block_add(&whole).await.expect("add");
    assert_eq!(
        s.block_get(t, BlockScope::Sender, "bob@x.example").await.expect("get"),
        Some(block.clone())
    );
    assert_eq!(
        s.block_get(t, BlockScope::Campaign, "bob@x.example")
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        s.blocks_list(t).await.expect("list"),
        vec![block.clone(), whole.clone()]
    );
    let lift = Lift {
        by: "ops:carol".into(),
        reason: "cleaned up".into(),
        at: at + 10,
    };
    assert_eq!(
        s.block_lift(t, BlockScope::Sender, "bob@x.example", &lift)
            .await
            .expect("lift"),
        Some(block.clone())
    );
    assert_eq!(
        s.block_lift(t, BlockScope::Sender, "bob@x.example", &lift)
            .await
            .expect("lift"),
        None
    );
    assert_eq!(s.blocks_list(t).await.expect("list"), vec![whole]);
    let audit = s.audit_range(t, at, at + 10).await.expect("audit");
    let actions: Vec<_> = audit.iter().map(|a| (a.action.as_str(), a.actor.as_str())).collect();
    assert_eq!(
        actions,
        vec![
            ("block.add", "ops:alice"),
            ("block.add", "ops:alice"),
            ("block.lift", "ops:carol")
        ]
    );
    let extra = AuditRecord {
        at: at + 20,
        actor: "ops:dan".into(),
        action: "domain.verify".into(),
        target: "x.example".into(),
        reason: "by hand".into(),
        detail: serde_json::Value::Null,
    };
    s.audit_append(t, &extra).await.expect("append");
    assert_eq!(s.audit_range(t, at + 11, at + 30).await.expect("range"), vec![extra]);
}

async fn event_log(s: Store, t: &str) {
    let at = now_ms();
    let ev = |i: u64| Event {
        at: at + i,
        kind: "violation".into(),
        rule: Some("bulk.max_recipients".into()),
        detail: serde_json::json!({ "n": i }),
    };
    for i in [0, 1, 1, 2] {
        s.event_append(t, &ev(i)).await.expect("append");
    }
    s.event_append(&format!("{t}-other"), &ev(1)).await.expect("append");
    let got = s.events_range(t, at + 1, at + 2).await.expect("range");
    assert_eq!(got, vec![ev(1), ev(1), ev(2)]);
    assert_eq!(s.events_range(t, at + 3, at + 100).await.expect("range"), vec![]);
}

async fn suppression(s: Store, t: &str) {
    let e = |a: &str| Suppression {
        address: a.into(),
        at: 5,
        reason: "bounce".into(),
    };
    s.suppression_add(t, &e("z@x")).await.expect("add");
    s.suppression_add(t, &e("a@x")).await.expect("add");
    assert!(s.suppression_contains(t, "a@x").await.expect("contains"));
    assert!(!s.suppression_contains(t, "b@x").await.expect("contains"));
    assert_eq!(s.suppression_list(t).await.expect("list"), vec![e("a@x"), e("z@x")]);
    assert!(s.suppression_remove(t, "a@x").await.expect("rm"));
    assert!(!s.suppression_remove(t, "a@x").await.expect("rm"));
    assert_eq!(s.suppression_list(t).await.expect("list"), vec![e("z@x")]);
}

async fn api_tokens(s: Store, t: &str) {
    let token = |id: &str| ApiToken {
        tenant: t.into(),
        id: id.into(),
        label: format!("deploy {id}"),
        sha256: "ab".repeat(32),
        by: "alice".into(),
        created_at: 7,
    };
    let other = format!("{t}-other");
    s.api_token_put(&token("z9")).await.expect("put");
    s.api_token_put(&token("a1")).await.expect("put");
    assert_eq!(s.api_token_get(t, "a1").await.expect("get"), Some(token("a1")));
    assert_eq!(s.api_token_get(t, "b2").await.expect("get"), None);
    // Another tenant never sees them, even with the same id.
    assert_eq!(s.api_token_get(&other, "a1").await.expect("get"), None);
    assert_eq!(s.api_token_list(&other).await.expect("list"), vec![]);
    assert_eq!(s.api_token_list(t).await.expect("list"), vec![token("a1"), token("z9")]);
    assert!(s.api_token_remove(t, "a1").await.expect("rm"));
    assert!(!s.api_token_remove(t, "a1").await.expect("rm"));
    assert_eq!(s.api_token_get(t, "a1").await.expect("get"), None);
    assert_eq!(s.api_token_list(t).await.expect("list"), vec![token("z9")]);
}

async fn campaigns(s: Store, t: &str) {
    let now = now_ms();
    let m = s
        .campaign_lookup_or_insert(t, &[1, 2, 3], "c1", now, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c1", true));
    // A variant sharing band 3 joins c1 and maps its new bands to c1.
    let m = s
        .campaign_lookup_or_insert(t, &[7, 8, 3], "c2", now + 1, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c1", false));
    let m = s
        .campaign_lookup_or_insert(t, &[8], "c3", now + 2, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c1", false));
    let m = s
        .campaign_lookup_or_insert(t, &[9], "c4", now + 3, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c4", true));
    // Keys of two campaigns: the one most keys map to wins and takes the other's keys.
    for (keys, candidate) in [(&[20u64, 21][..], "d1"), (&[22][..], "d0")] {
        let m = s
            .campaign_lookup_or_insert(t, keys, candidate, now, DAY, &[])
            .await
            .expect("c");
        assert!(m.is_new);
    }
    let m = s
        .campaign_lookup_or_insert(t, &[20, 21, 22], "d2", now + 1, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("d1", false));
    assert_eq!(
        m.merged,
        vec!["d0".to_string()],
        "the campaign whose key was taken is named"
    );
    let m = s
        .campaign_lookup_or_insert(t, &[22], "d3", now + 2, DAY, &[])
        .await
        .expect("c");
    assert_eq!(m.id, "d1", "band 22 was re-pointed");
    assert!(m.merged.is_empty());
    // A pinned (blocked) campaign keeps its keys: the message is named in `merged`, and later
    // copies still reach the pinned campaign.
    s.campaign_lookup_or_insert(t, &[40, 41], "f1", now, DAY, &[])
        .await
        .expect("c");
    s.campaign_lookup_or_insert(t, &[42], "f0", now, DAY, &[])
        .await
        .expect("c");
    let pinned = vec!["f0".to_string()];
    let m = s
        .campaign_lookup_or_insert(t, &[40, 41, 42], "f2", now + 1, DAY, &pinned)
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.merged.clone()), ("f1", vec!["f0".to_string()]));
    let m = s
        .campaign_lookup_or_insert(t, &[42], "f3", now + 2, DAY, &pinned)
        .await
        .expect("c");
    assert_eq!(m.id, "f0", "the pinned campaign's key was not re-pointed");
    // A tie goes to the smallest id.
    s.campaign_lookup_or_insert(t, &[30], "e2", now, DAY, &[])
        .await
        .expect("c");
    s.campaign_lookup_or_insert(t, &[31], "e1", now, DAY, &[])
        .await
        .expect("c");
    let m = s
        .campaign_lookup_or_insert(t, &[30, 31], "e3", now + 1, DAY, &[])
        .await
        .expect("c");
    assert_eq!(m.id, "e1");
    // Other tenants never see it.
    let m = s
        .campaign_lookup_or_insert(&format!("{t}x"), &[1], "c5", now, DAY, &[])
        .await
        .expect("c");
    assert!(m.is_new);
    // Still there a whole window after its last use (band 8 was last used at `now + 2`)...
    let m = s
        .campaign_lookup_or_insert(t, &[8], "c7", now + DAY_MS + 1, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c1", false));
    // ...and gone once the window and the store's refresh slack (at most 1/64 of the window)
    // have passed since it was last used (band 1: at `now`).
    let m = s
        .campaign_lookup_or_insert(t, &[1], "c6", now + DAY_MS + DAY_MS / 64 + 1, DAY, &[])
        .await
        .expect("c");
    assert_eq!((m.id.as_str(), m.is_new), ("c6", true));
}

/// Many tasks race on one key: exact final counts and exactly the right number of refusals.
async fn races(s: Store, t: &str) {
    let now = now_ms();
    let mut set_tasks = tokio::task::JoinSet::new();
    for i in 0..60u32 {
        let s = Arc::clone(&s);
        let k = Key::new("bulk.rcpts", t).part("race");
        set_tasks.spawn(async move {
            s.set_check_and_add(&k, format!("rcpt{i}").as_bytes(), now, DAY, 20)
                .await
        });
    }
    let mut admitted = 0;
    let mut refused = 0;
    while let Some(r) = set_tasks.join_next().await {
        if r.expect("join").expect("store").admitted {
            admitted += 1;
        } else {
            refused += 1;
        }
    }
    assert_eq!((admitted, refused), (20, 40));
    let k = Key::new("bulk.rcpts", t).part("race");
    assert_eq!(s.set_count(&k, now, DAY).await.expect("count"), 20);

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let s = Arc::clone(&s);
        let k = Key::new("quota", t).part("race");
        tasks.spawn(async move { s.counter_check_and_add(&k, 1, 21, now, DAY).await });
    }
    let (mut charged, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.expect("join").expect("store") {
            Charge::Charged { .. } => charged += 1,
            Charge::Refused { .. } => refused += 1,
        }
    }
    assert_eq!((charged, refused), (21, 79));
    let k = Key::new("quota", t).part("race");
    assert_eq!(s.counter_get(&k, now, DAY).await.expect("get"), 21);

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let s = Arc::clone(&s);
        let k = Key::new("bomb", t).part("race");
        tasks.spawn(async move { s.events_check_and_add(&k, now, DAY, 10).await });
    }
    let mut admitted = 0;
    while let Some(r) = tasks.join_next().await {
        admitted += u32::from(r.expect("join").expect("store").admitted);
    }
    assert_eq!(admitted, 10);
}

/// The usage view's reads: a counter's buckets answer the total and the time a refusal names;
/// the event logs under a prefix; the live campaigns.
async fn usage_reads(s: Store, t: &str) {
    let k = Key::new("quota.msgs", t);
    let t0 = now_ms();
    let b = span(t0, DAY_MS).size;
    let empty = s.counter_window(&k, t0, DAY).await.expect("window");
    assert_eq!(
        (
            empty.total(),
            empty.fits_in(1, 10, t0, DAY_MS),
            empty.empties_in(t0, DAY_MS)
        ),
        (0, Some(0), 0)
    );
    for i in 0..10u64 {
        s.counter_check_and_add(&k, 1, 10, t0 + i * b, DAY).await.expect("cac");
    }
    let at = t0 + 10 * b;
    let window = s.counter_window(&k, at, DAY).await.expect("window");
    assert_eq!(window.total(), s.counter_get(&k, at, DAY).await.expect("get"));
    assert_eq!(window.total(), 10);
    assert_eq!(window.bucket_ms, b);
    // Full: the time to wait is exactly the one the refused check-and-charge names.
    let Charge::Refused { retry_after_ms, .. } = s.counter_check_and_add(&k, 1, 10, at, DAY).await.expect("cac") else {
        panic!("limit 10 with 10 counted must refuse");
    };
    assert_eq!(window.fits_in(1, 10, at, DAY_MS), retry_after_ms);
    assert_eq!(window.fits_in(1, 11, at, DAY_MS), Some(0));
    assert_eq!(window.fits_in(11, 10, at, DAY_MS), None);
    // Empty once the newest bucket has left the window.
    let empties = window.empties_in(at, DAY_MS);
    assert_eq!(s.counter_get(&k, at + empties - 1, DAY).await.expect("get"), 1);
    assert_eq!(s.counter_get(&k, at + empties, DAY).await.expect("get"), 0);

    let prefix = Key::new("mail_bomb", t);
    for (campaign, rcpt, n) in [
        ("c1", "ann@example.org", 3),
        ("c1", "bob@example.org", 1),
        ("c2", "ann@example.org", 2),
    ] {
        for i in 0..n {
            s.events_check_and_add(&prefix.clone().part(campaign).part(rcpt), t0 + i, DAY, 10)
                .await
                .expect("event");
        }
    }
    // Another tenant's logs and the prefix itself are not under it.
    s.events_check_and_add(
        &Key::new("mail_bomb", &format!("{t}x"))
            .part("c1")
            .part("ann@example.org"),
        t0,
        DAY,
        10,
    )
    .await
    .expect("event");
    let mut under = s.events_counts_under(&prefix, t0 + 10, DAY).await.expect("under");
    under.sort();
    let expected = |campaign: &str, rcpt: &str, n: u32| {
        let full = prefix.clone().part(campaign).part(rcpt);
        (full.as_bytes()[prefix.as_bytes().len()..].to_vec(), n)
    };
    let mut want = vec![
        expected("c1", "ann@example.org", 3),
        expected("c1", "bob@example.org", 1),
        expected("c2", "ann@example.org", 2),
    ];
    want.sort();
    assert_eq!(under, want);
    assert!(
        s.events_counts_under(&prefix, t0 + 3 + DAY_MS, DAY)
            .await
            .expect("under")
            .is_empty(),
        "all left the window"
    );

    assert!(s.campaigns_live(t, t0).await.expect("live").is_empty());
    s.campaign_lookup_or_insert(t, &[1, 2], "c9", t0, DAY, &[])
        .await
        .expect("c");
    s.campaign_lookup_or_insert(t, &[3], "c5", t0, Duration::from_secs(60), &[])
        .await
        .expect("c");
    s.campaign_lookup_or_insert(&format!("{t}x"), &[4], "other", t0, DAY, &[])
        .await
        .expect("c");
    assert_eq!(s.campaigns_live(t, t0 + 1).await.expect("live"), ["c5", "c9"]);
    assert_eq!(s.campaigns_live(t, t0 + 120_000).await.expect("live"), ["c9"]);
}

/// Complaint intake: the Message-ID index keeps its first writer and expires, a complaint is stored once per dedup key
/// (atomically, also under racing puts), and lists page by id (time) per scope.
async fn complaints(s: Store, t: &str) {
    let t0 = now_ms();
    let origin = MessageOrigin {
        tenant: t.to_string(),
        campaign: Some("c0ffee".into()),
        queue_id: "Q1".into(),
        recipients: vec![
            aupgate::store::complaints::recipient_digest("bob@dest.example"),
            aupgate::store::complaints::recipient_digest("carol@dest.example"),
        ],
    };
    let mid = format!("<{t}.1@acme.example>");
    s.message_origin_put(&mid, &origin, t0, Duration::from_secs(60))
        .await
        .expect("put");
    // Found with or without the angle brackets; gone after the retention; others unknown.
    let bare = mid.trim_start_matches('<').trim_end_matches('>').to_string();
    assert_eq!(
        s.message_origin_get(&bare, t0 + 1).await.expect("get"),
        Some(origin.clone())
    );
    assert_eq!(s.message_origin_get("<other@x>", t0 + 1).await.expect("get"), None);
    let without = MessageOrigin {
        campaign: None,
        recipients: Vec::new(),
        ..origin.clone()
    };
    s.message_origin_put("m2@x", &without, t0, Duration::from_secs(60))
        .await
        .expect("put");
    assert_eq!(s.message_origin_get("m2@x", t0).await.expect("get"), Some(without));
    // The first writer keeps a Message-ID: another tenant sending it again takes nothing over.
    let usurper = MessageOrigin {
        tenant: format!("{t}-throwaway"),
        campaign: None,
        queue_id: "Q2".into(),
        recipients: Vec::new(),
    };
    s.message_origin_put(&bare, &usurper, t0 + 2, Duration::from_secs(600))
        .await
        .expect("put");
    assert_eq!(
        s.message_origin_get(&mid, t0 + 3).await.expect("get"),
        Some(origin.clone())
    );
    if s.backend() == "rocksdb" {
        // Redis expires by PX on its own clock; RocksDB reads the expiry against `now`.
        assert_eq!(s.message_origin_get(&mid, t0 + 61_000).await.expect("get"), None);
        // Once expired, the next writer has it.
        s.message_origin_put(&mid, &usurper, t0 + 61_000, Duration::from_secs(60))
            .await
            .expect("put");
        assert_eq!(
            s.message_origin_get(&mid, t0 + 61_001).await.expect("get"),
            Some(usurper)
        );
    }

    let complaint = |n: u64, tenant: Option<&str>| StoredComplaint {
        id: format!("{:013}-{t_hash}{n}", t0 + n, t_hash = "a"),
        dedup_key: format!("{t}-dedup-{n}"),
        tenant: tenant.map(str::to_string),
        record: format!("record {n}\n\x00bytes").into_bytes(),
    };
    let other = format!("{t}-other");
    for n in 0..5 {
        let tenant = match n {
            0 | 1 | 3 => Some(t),
            2 => None,
            _ => Some(other.as_str()),
        };
        assert_eq!(
            s.complaint_put(&complaint(n, tenant)).await.expect("put"),
            ComplaintPut::New
        );
    }
    // The same dedup key again, under a new id: nothing written, the first id named.
    let mut again = complaint(1, Some(t));
    again.id = format!("{:013}-b", t0 + 100);
    assert_eq!(
        s.complaint_put(&again).await.expect("put"),
        ComplaintPut::Duplicate {
            id: complaint(1, None).id
        }
    );
    assert_eq!(s.complaint_get(&again.id).await.expect("get"), None);
    assert_eq!(
        s.complaint_get(&complaint(3, None).id).await.expect("get"),
        Some(complaint(3, Some(t)))
    );
    assert_eq!(
        s.complaint_get(&complaint(2, None).id).await.expect("get"),
        Some(complaint(2, None))
    );

    let ids = |list: Vec<StoredComplaint>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let id = |n: u64| complaint(n, None).id;
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(t), "", "", 10)
            .await
            .expect("list")),
        [id(3), id(1), id(0)]
    );
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Unattributed, "", "", 10)
            .await
            .expect("list")),
        [id(2)]
    );
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(&other), "", "", 10)
            .await
            .expect("list")),
        [id(4)]
    );
    // Pages: the next page starts below the last id shown.
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(t), "", "", 2)
            .await
            .expect("list")),
        [id(3), id(1)]
    );
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(t), "", &id(1), 2)
            .await
            .expect("list")),
        [id(0)]
    );
    // A time range: ids from `since` (inclusive) to `before` (exclusive).
    let (since, before) = (format!("{:013}", t0 + 1), format!("{:013}", t0 + 3));
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(t), &since, &before, 10)
            .await
            .expect("list")),
        [id(1)]
    );
    let all = ids(s
        .complaints_list(ComplaintScope::All, "", "", 1000)
        .await
        .expect("list"));
    for n in 0..5 {
        assert!(all.contains(&id(n)), "{all:?}");
    }

    // Retention: complaints with ids below `before` go, a limited number a call, with their
    // dedup and index entries; younger ones stay.
    let before = format!("{:013}", t0 + 2);
    assert_eq!(s.complaints_expire(&before, 1).await.expect("expire"), 1);
    assert_eq!(s.complaints_expire(&before, 100).await.expect("expire"), 1);
    assert_eq!(s.complaints_expire(&before, 100).await.expect("expire"), 0);
    assert_eq!(s.complaint_get(&id(0)).await.expect("get"), None);
    assert_eq!(s.complaint_get(&id(1)).await.expect("get"), None);
    assert_eq!(
        ids(s
            .complaints_list(ComplaintScope::Tenant(t), "", "", 10)
            .await
            .expect("list")),
        [id(3)]
    );
    assert_eq!(
        s.complaint_get(&complaint(2, None).id).await.expect("get"),
        Some(complaint(2, None))
    );
    // The expired complaint's dedup key is free again.
    assert_eq!(s.complaint_put(&again).await.expect("put"), ComplaintPut::New);

    // Racing puts of one dedup key: exactly one is new.
    let mut handles = Vec::new();
    for n in 0..8u64 {
        let s = Arc::clone(&s);
        let mut racer = complaint(50, Some(t));
        racer.id = format!("{:013}-r{n}", t0 + 50);
        handles.push(tokio::spawn(async move { s.complaint_put(&racer).await.expect("put") }));
    }
    let mut new = 0;
    for handle in handles {
        if handle.await.expect("join") == ComplaintPut::New {
            new += 1;
        }
    }
    assert_eq!(new, 1);
}

// --- Stage batches: one round trip per SMTP stage (issue 18) ---

/// `stage_batch` answers as the single operations would, in order, stops right after the first
/// adverse answer (nothing after it is charged), and puts the campaign found into the keys that
/// hold the campaign slot.
async fn stage_batches(s: Store, t: &str) {
    use aupgate::store::batch::{StageAnswer, StageOp, CAMPAIGN_SLOT};
    let t0 = now_ms();
    let slot_set = Key::new("bulk", t).part(CAMPAIGN_SLOT);
    let campaign = |candidate: &str| StageOp::Campaign {
        band_keys: vec![11, 12, 13],
        candidate: candidate.into(),
        window: DAY,
        pinned: vec![],
    };
    let member = |m: &str| StageOp::SetCheckAndAdd {
        key: slot_set.clone(),
        member: m.as_bytes().to_vec(),
        window: DAY,
        cap: 2,
    };
    let bomb = Key::new("mail_bomb", t).part(CAMPAIGN_SLOT).part("a@x");
    let ops = vec![
        campaign("c1"),
        member("a"),
        member("b"),
        member("c"),
        StageOp::EventsCheckAndAdd {
            key: bomb.clone(),
            window: DAY,
            cap: 10,
        },
    ];
    let answers = s.stage_batch(t, &ops, t0).await.expect("batch");
    assert_eq!(answers.len(), 4, "{answers:?}");
    let StageAnswer::Campaign(found) = &answers[0] else {
        panic!("{answers:?}")
    };
    assert_eq!((found.id.as_str(), found.is_new), ("c1", true));
    let set = |a: bool, already: bool, n: u32| {
        StageAnswer::Set(aupgate::store::SetCharge {
            admitted: a,
            already_member: already,
            distinct: n,
        })
    };
    assert_eq!(
        answers[1..],
        [set(true, false, 1), set(true, false, 2), set(false, false, 2)]
    );
    let real_set = Key::new("bulk", t).part("c1");
    assert_eq!(s.set_count(&real_set, t0, DAY).await.expect("count"), 2);
    let real_bomb = Key::new("mail_bomb", t).part("c1").part("a@x");
    assert_eq!(
        s.events_count(&real_bomb, t0, DAY).await.expect("count"),
        0,
        "charged after the refusal"
    );

    // The campaign is found again by its keys; members already in are admitted.
    let again = s
        .stage_batch(t, &[campaign("c2"), member("b"), ops[4].clone()], t0 + 1)
        .await
        .expect("batch");
    let StageAnswer::Campaign(found) = &again[0] else {
        panic!("{again:?}")
    };
    assert_eq!((found.id.as_str(), found.is_new), ("c1", false));
    assert_eq!(again[1], set(true, true, 2));
    assert!(matches!(again[2], StageAnswer::Events(e) if e.admitted && e.count == 1));
    assert_eq!(s.events_count(&real_bomb, t0 + 1, DAY).await.expect("count"), 1);

    // Counters: a zero-sized check, a refusal (with its retry time), nothing after it.
    let quota = Key::new("quota.messages.hour", t);
    let other = Key::new("quota.messages.day", t);
    s.counter_add(&quota, 5, t0, DAY).await.expect("add");
    let answers = s
        .stage_batch(
            t,
            &[
                StageOp::CounterCheck {
                    key: quota.clone(),
                    n: 0,
                    limit: 5,
                    window: DAY,
                },
                StageOp::CounterCheck {
                    key: quota.clone(),
                    n: 1,
                    limit: 5,
                    window: DAY,
                },
                StageOp::CounterAdd {
                    key: other.clone(),
                    n: 1,
                    window: DAY,
                },
            ],
            t0,
        )
        .await
        .expect("batch");
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0], StageAnswer::Counter(Charge::Charged { total: 5 }));
    assert!(matches!(
        answers[1],
        StageAnswer::Counter(Charge::Refused {
            total: 5,
            retry_after_ms: Some(_)
        })
    ));
    assert_eq!(s.counter_get(&other, t0, DAY).await.expect("get"), 0);
    // What an accepted message charges, in one call.
    s.counter_add_many(&[(quota.clone(), 2, DAY), (other.clone(), 3, DAY)], t0)
        .await
        .expect("add many");
    assert_eq!(s.counter_get(&quota, t0, DAY).await.expect("get"), 7);
    assert_eq!(s.counter_get(&other, t0, DAY).await.expect("get"), 3);

    // Suppression and blocks: reads, adverse when found.
    s.suppression_add(
        t,
        &Suppression {
            address: "gone@x".into(),
            at: t0,
            reason: "bounce".into(),
        },
    )
    .await
    .expect("add");
    let block = Block {
        tenant: t.into(),
        scope: BlockScope::Sender,
        target: "bob@x".into(),
        by: "ops".into(),
        reason: "spam".into(),
        at: t0,
        expires_at: None,
    };
    s.block_add(&block).await.expect("block");
    let lookups = [
        StageOp::BlockGet {
            scope: BlockScope::Sender,
            target: "ann@x".into(),
        },
        StageOp::SuppressionContains {
            address: "here@x".into(),
        },
        StageOp::SuppressionContains {
            address: "gone@x".into(),
        },
        StageOp::BlockGet {
            scope: BlockScope::Sender,
            target: "bob@x".into(),
        },
    ];
    let answers = s.stage_batch(t, &lookups, t0).await.expect("batch");
    assert_eq!(
        answers,
        [
            StageAnswer::Block(None),
            StageAnswer::Suppressed(false),
            StageAnswer::Suppressed(true)
        ]
    );
    let answers = s.stage_batch(t, &lookups[3..], t0).await.expect("batch");
    assert_eq!(answers, [StageAnswer::Block(Some(block))]);

    // Batches of many sessions at once (Redis runs those waiting together in one call): each
    // atomic, each with its own answers: exactly `cap` distinct members are admitted.
    let race = Key::new("bulk", t).part("race");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (s, t, key) = (Arc::clone(&s), t.to_string(), race.clone());
            tokio::spawn(async move {
                let op = StageOp::SetCheckAndAdd {
                    key,
                    member: format!("m{i}").into_bytes(),
                    window: DAY,
                    cap: 20,
                };
                s.stage_batch(&t, &[op], t0).await.expect("batch")
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        match task.await.expect("task").as_slice() {
            [StageAnswer::Set(charge)] => admitted += usize::from(charge.admitted),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(admitted, 20);
    assert_eq!(s.set_count(&race, t0, DAY).await.expect("count"), 20);

    // Quota charges of many sessions at once (on Redis one call reads a counter once and adds
    // its callers' charges up): as if one after another. Each admitted charge sees its own
    // total, the 16th and later are refused at the hour's limit without charging the day, and
    // the counters hold exactly what was admitted.
    let hour = Key::new("quota.messages.hour", t).part("race");
    let day = Key::new("quota.messages.day", t).part("race");
    s.counter_add(&hour, 1, t0, HOUR).await.expect("first bucket");
    s.counter_add(&day, 1, t0, DAY).await.expect("first bucket");
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (s, t, hour, day) = (Arc::clone(&s), t.to_string(), hour.clone(), day.clone());
            tokio::spawn(async move {
                let ops = [
                    StageOp::CounterCheck {
                        key: hour,
                        n: 1,
                        limit: 15,
                        window: HOUR,
                    },
                    StageOp::CounterCheck {
                        key: day,
                        n: 1,
                        limit: 100,
                        window: DAY,
                    },
                ];
                s.stage_batch(&t, &ops, t0 + 1).await.expect("batch")
            })
        })
        .collect();
    let mut totals = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("task").as_slice() {
            [StageAnswer::Counter(Charge::Charged { total: h }), StageAnswer::Counter(Charge::Charged { total: d })] => {
                // (The embedded store runs a batch's operations one by one, so another caller's
                // may come between the two: only each counter's own order is certain.)
                assert!(*d >= 2 && *d <= 15, "{d}");
                totals.push(*h);
            }
            [StageAnswer::Counter(Charge::Refused {
                total: 15,
                retry_after_ms: Some(_),
            })] => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    totals.sort_unstable();
    assert_eq!(totals, (2..=15).collect::<Vec<u64>>());
    assert_eq!(refused, 26);
    assert_eq!(s.counter_get(&hour, t0 + 1, HOUR).await.expect("hour"), 15);
    assert_eq!(s.counter_get(&day, t0 + 1, DAY).await.expect("day"), 15);

    // A campaign key before the lookup is the caller's bug: an error, nothing charged.
    assert!(s.stage_batch(t, &ops[1..2], t0).await.is_err());
    assert_eq!(s.stage_batch(t, &[], t0).await.expect("empty"), []);
}

// --- Tenant change feed (issue 18) ---

/// Every tenant write (create, update, delete, a block placed or lifted) names the tenant in the
/// change feed after the generation it moved; a follower asking since a generation gets exactly
/// the tenants written since. RocksDB keeps no feed: every tenant counts as changed.
async fn tenant_feed(s: Store, t: &str) {
    let (a, b, c) = (format!("{t}-a"), format!("{t}-b"), format!("{t}-c"));
    s.tenant_create(&acme(&a)).await.expect("create");
    s.tenant_create(&acme(&b)).await.expect("create");
    let start = s.tenant_generation().await.expect("generation");
    let changed_since = |since: u64| {
        let s = Arc::clone(&s);
        async move { s.tenant_changes(since).await.expect("changes") }
    };
    let none = changed_since(start).await;
    assert_eq!(none.generation, start);
    if s.backend() == "rocksdb" {
        s.tenant_create(&acme(&c)).await.expect("create");
        let all = changed_since(start).await;
        assert!(all.generation > start);
        assert_eq!(all.changed, None, "RocksDB keeps no feed");
        return;
    }
    assert_eq!(none.changed, Some(vec![]));
    s.tenant_update(&a, &[TenantChange::Set(TenantField::Name("A".into()))])
        .await
        .expect("update");
    let one = changed_since(start).await;
    assert_eq!(one.changed, Some(vec![a.clone()]));
    assert!(one.generation > start);
    // A write refused changes nothing; a block and a delete name their tenant.
    assert!(!s.tenant_create(&acme(&a)).await.expect("create again"));
    let block = Block {
        tenant: b.clone(),
        scope: BlockScope::Sender,
        target: "x@y".into(),
        by: "ops".into(),
        reason: "spam".into(),
        at: now_ms(),
        expires_at: None,
    };
    s.block_add(&block).await.expect("block");
    let lift = Lift {
        by: "ops".into(),
        reason: "ok".into(),
        at: now_ms(),
    };
    s.block_lift(&b, BlockScope::Sender, "x@y", &lift).await.expect("lift");
    assert!(s.tenant_delete(&a).await.expect("delete"));
    let more = changed_since(one.generation).await;
    assert_eq!(more.changed, Some(vec![a.clone(), b.clone()]));
    let all = changed_since(start).await;
    assert_eq!(all.changed, Some(vec![a.clone(), b.clone()]));
    assert_eq!(all.generation, more.generation);
    // A generation the store never reached (a store emptied since): read everything.
    assert_eq!(changed_since(all.generation + 1_000).await.changed, None);
}

async fn run_all(s: Store, label: &str) {
    let t = format!("{label}-{}", now_ms());
    macro_rules! case {
        ($f:ident) => {{
            eprintln!("[{label}] {}", stringify!($f));
            $f(Arc::clone(&s), &format!("{t}-{}", stringify!($f))).await;
        }};
    }
    case!(counters);
    case!(distinct_sets);
    case!(event_logs);
    case!(releases);
    case!(forged_keys);
    case!(tenants);
    case!(tenant_fields);
    case!(tenant_concurrent_writers);
    case!(blocks_and_audit);
    case!(event_log);
    case!(suppression);
    case!(campaigns);
    case!(races);
    case!(api_tokens);
    case!(usage_reads);
    case!(complaints);
    case!(stage_batches);
    case!(tenant_feed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rocksdb_conformance() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = RocksStore::open(dir.path(), DAY * 400).expect("open");
    run_all(Arc::new(store), "rocks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_standalone_conformance() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&[server.url()], Duration::from_secs(2), DAY * 400)
        .await
        .expect("connect");
    run_all(Arc::new(store), "redis").await;
}

/// A local Redis reached through its Unix socket (`unix://` in `store.urls`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_unix_socket_conformance() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&[server.unix_url()], Duration::from_secs(2), DAY * 400)
        .await
        .expect("connect");
    run_all(Arc::new(store), "redis-unix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_conformance() {
    let cluster = RedisCluster::start();
    let store = RedisStore::connect(&cluster.urls(), Duration::from_secs(2), DAY * 400)
        .await
        .expect("connect");
    run_all(Arc::new(store), "cluster").await;
}
