//! Queue crash recovery: entries survive a reopen, and a corrupt entry is quarantined instead of
//! crashing the gateway or being retried in a loop.

use aupgate::queue::{Queue, QueueEntry, QueueError};

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
    assert!(matches!(queue.load("BROKEN"), Err(QueueError::NotFound(_))));
}
