//! Queue crash recovery: entries survive a reopen, and a corrupt entry is quarantined instead of
//! crashing the gateway or being retried in a loop.

use aupgate::queue::{BodyType, MailParams, Queue, QueueEntry, QueueError};

#[tokio::test]
async fn entries_survive_reopen_and_corrupt_ones_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue");
    {
        let queue = Queue::open(&path).unwrap();
        let id = queue.new_id();
        let entry = QueueEntry::new(
            id.clone(),
            "acme".into(),
            "a@acme.example".into(),
            vec!["b@dest.example".into()],
            String::new(),
            1,
        );
        queue.enqueue(entry, b"Subject: x\r\n\r\nx\r\n".to_vec()).await.unwrap();
        queue.write_raw_meta_for_test("BROKEN", b"{not json").unwrap();
    }
    let queue = Queue::open(&path).unwrap();
    assert_eq!(queue.quarantined(), vec!["BROKEN".to_string()]);
    assert_eq!(queue.scheduled(), 1, "the good entry is scheduled again");
    assert!(matches!(queue.load("BROKEN").await, Err(QueueError::NotFound(_))));
}

/// The spool of the first release (entries without a format version, SMTPUTF8 or BODY) is read
/// after an upgrade: nothing is quarantined and the missing fields take their defaults.
#[tokio::test]
async fn an_entry_written_by_the_first_release_is_read_after_an_upgrade() {
    let fixture = include_bytes!("fixtures/queue_entry_v0.json");
    let id = "0006471A2B3C4D5E00000001";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue");
    {
        let queue = Queue::open(&path).unwrap();
        queue
            .write_raw_entry_for_test(id, fixture, b"Subject: x\r\n\r\nx\r\n")
            .unwrap();
    }
    let queue = Queue::open(&path).unwrap();
    assert!(
        queue.quarantined().is_empty(),
        "an upgrade must not quarantine the spool"
    );
    assert_eq!(queue.scheduled(), 1);
    let (entry, body) = queue.load(id).await.expect("the old entry loads");
    assert_eq!(body, b"Subject: x\r\n\r\nx\r\n");
    assert_eq!(entry.version, 0);
    assert_eq!(entry.sender, "a@acme.example");
    assert_eq!(entry.pending().count(), 1);
    assert_eq!(entry.mail_params(), MailParams::default());
    assert!(!entry.smtputf8);
    assert_eq!(entry.body_type, BodyType::Unspecified);
    // Saved again, it is written in the current format.
    queue.reschedule(&entry).await.unwrap();
    let (again, _) = queue.load(id).await.unwrap();
    assert_eq!(again.version, aupgate::queue::FORMAT_VERSION);
    assert_eq!(again.recipients, entry.recipients);
}

/// A removal is handed to the queue's remover thread; `flush` (shutdown) waits until it is
/// written, and the entry is gone for good: not loaded, not recovered after a reopen.
#[tokio::test]
async fn a_removed_entry_is_gone_once_flushed_and_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue");
    let mut ids = Vec::new();
    {
        let queue = Queue::open(&path).unwrap();
        for _ in 0..3 {
            let id = queue.new_id();
            let entry = QueueEntry::new(
                id.clone(),
                "acme".into(),
                "a@acme.example".into(),
                vec!["b@dest.example".into()],
                String::new(),
                1,
            );
            queue.enqueue(entry, b"Subject: x\r\n\r\nx\r\n".to_vec()).await.unwrap();
            ids.push(id);
        }
        queue.remove(&ids[0]);
        queue.remove(&ids[2]);
        queue.flush().await.unwrap();
        assert!(matches!(queue.load(&ids[0]).await, Err(QueueError::NotFound(_))));
        assert!(queue.load(&ids[1]).await.is_ok());
        assert!(matches!(queue.load(&ids[2]).await, Err(QueueError::NotFound(_))));
    }
    let queue = Queue::open(&path).unwrap();
    assert_eq!(queue.scheduled(), 1, "only the entry not removed is recovered");
    assert!(queue.load(&ids[1]).await.is_ok());
}
