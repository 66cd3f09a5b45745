//! MX mode against a real DNS server on loopback: MX lookup, implicit MX, null MX; and the
//! resolver's TXT cache against the same server.

mod support;

use std::time::Duration;

use aupgate::complaints::outcomes::tenant_figures;
use aupgate::config::RelayMode;
use support::dns::{DnsServer, Record, Zone};
use support::Harness;

#[tokio::test]
async fn mx_routing_uses_the_configured_resolver() {
    let zone = Zone::default();
    zone.add("dest.example", Record::Mx(10, "mx1.dest.example".into()));
    zone.add("mx1.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("implicit.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("nullmx.example", Record::Mx(0, ".".into()));
    zone.add("acme.example", Record::Mx(5, "mx1.dest.example".into()));
    let dns = DnsServer::start(zone).await;
    let sink = support::Sink::start().await;
    let sink_port = sink.address.port();
    let h = Harness::start_with(|c| {
        c.relay.mode = RelayMode::Mx;
        c.relay.mx_port = sink_port;
        c.dns.nameservers = vec![dns.address.to_string()];
        c.queue.max_age = aupgate::config::HumanDuration::secs(1);
    })
    .await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    for rcpt in ["bob@dest.example", "carol@implicit.example", "dave@nullmx.example"] {
        c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
        c.send(&format!("RCPT TO:<{rcpt}>"), "250 2.1.5").await;
        c.send("DATA", "354").await;
        c.write(format!("From: a@acme.example\r\nSubject: to {rcpt}\r\n\r\nhi\r\n.\r\n").as_bytes())
            .await;
        c.expect("250 2.0.0").await;
    }
    // bob and carol delivered; dave refused by null MX, which returns a DSN to a@acme.example.
    let got = sink.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let delivered: Vec<String> = got
        .iter()
        .filter(|m| !m.sender.is_empty())
        .flat_map(|m| m.recipients.clone())
        .collect();
    assert!(delivered.contains(&"bob@dest.example".to_string()), "{delivered:?}");
    assert!(
        delivered.contains(&"carol@implicit.example".to_string()),
        "{delivered:?}"
    );
    assert!(!delivered.contains(&"dave@nullmx.example".to_string()));
    let dsn = got
        .iter()
        .find(|m| m.sender.is_empty())
        .expect("DSN for the null-MX recipient");
    assert_eq!(dsn.recipients, vec!["a@acme.example".to_string()]);
    let text = String::from_utf8_lossy(&dsn.data);
    assert!(text.contains("Final-Recipient: rfc822; dave@nullmx.example"), "{text}");
    assert!(text.contains("556 5.1.10"), "{text}");
    assert_eq!(h.sink.messages().len(), 0, "the smarthost must not be used in MX mode");

    // The null MX is the gateway's own verdict (from its DNS answers), not the next hop's: the
    // sender gets the DSN, but the recipient is not suppressed and the bounce rate counts it as
    // `failed`, not as a hard bounce (a resolver answering wrongly must not cost the tenant).
    let store = h.gateway.store.as_ref();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let figures = loop {
        let figures = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
        if figures.delivered + figures.failed >= 3 || std::time::Instant::now() >= deadline {
            break figures;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((figures.delivered, figures.hard_bounced, figures.failed), (2, 0, 1));
    let suppressed = store.suppression_list("acme").await.unwrap();
    assert!(suppressed.is_empty(), "{suppressed:?}");
}

#[tokio::test]
async fn txt_answers_are_kept_for_their_ttl_and_a_fresh_lookup_asks_again() {
    let zone = Zone::default();
    zone.cache_negative_answers(60);
    zone.add("acme.example", Record::Txt("v=spf1 -all".into()));
    let server = DnsServer::start(zone.clone()).await;
    let mut config = aupgate::config::Config::demo();
    config.dns.nameservers = vec![server.address.to_string()];
    let dns = aupgate::dns::Dns::new(&config.dns).unwrap();

    // A positive answer (60 s TTL) is asked once and then served from the cache.
    for _ in 0..3 {
        let records = dns.txt("acme.example").await.unwrap();
        assert_eq!(&records[..], ["v=spf1 -all".to_string()]);
    }
    assert_eq!(zone.queries("acme.example"), 1);

    // A record published meanwhile is not seen until the TTL runs out, except by a fresh lookup
    // (domain verification), which also replaces what later lookups get.
    zone.add("acme.example", Record::Txt("aupgate-verify=token".into()));
    assert_eq!(dns.txt("acme.example").await.unwrap().len(), 1);
    let fresh = dns.txt_fresh("acme.example").await.unwrap();
    assert_eq!(fresh.len(), 2, "{fresh:?}");
    assert_eq!(zone.queries("acme.example"), 2);
    assert_eq!(dns.txt("acme.example").await.unwrap().len(), 2);
    assert_eq!(zone.queries("acme.example"), 2);

    // A name that does not exist is a permanent answer, cached as the zone's SOA allows.
    for _ in 0..2 {
        let error = dns.txt("missing.example").await.unwrap_err();
        assert!(matches!(error, aupgate::dns::DnsError::NotFound { .. }), "{error}");
    }
    assert_eq!(zone.queries("missing.example"), 1);
}
