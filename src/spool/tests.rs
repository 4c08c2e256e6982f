use super::*;

fn temp(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookgate-spool-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn event(i: u64) -> StoredEvent {
    StoredEvent {
        source: "homa".into(),
        id: format!("id-{i}"),
        kind: "ticket.created".into(),
        received_at_ms: 1_700_000_000_000 + i,
        content_type: Some("application/json".into()),
        headers: vec![("x-request-id".into(), "req-1".into())],
        body: format!("{{\"n\":{i}}}").into_bytes(),
    }
}

#[tokio::test]
async fn appended_events_survive_a_reopen_and_sequence_numbers_continue() {
    let dir = temp("reopen");
    {
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(spool.append(&event(0)).await.unwrap(), 0);
        assert_eq!(spool.append(&event(1)).await.unwrap(), 1);
    }
    let spool = Spool::open(&dir).unwrap();
    assert_eq!(spool.get(1).unwrap().unwrap(), event(1));
    assert_eq!(spool.append(&event(2)).await.unwrap(), 2);
    let all: Vec<_> = spool.events().map(|r| r.unwrap().0).collect();
    assert_eq!(all, [0, 1, 2]);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn deliveries_move_from_pending_to_done_or_dead_and_survive_a_reopen() {
    let dir = temp("deliveries");
    let destinations = ["log".to_owned(), "upstream".to_owned()];
    {
        let spool = Spool::open(&dir).unwrap();
        let seq = spool
            .accept(&event(7), &destinations, Vec::new())
            .await
            .unwrap();
        let due = spool.due(now_ms(), 10).unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|d| d.seq == seq));
        let log = due.iter().find(|d| d.destination == "log").unwrap();
        spool.delivered(log, &log.delivery).await.unwrap();
        let upstream = due.iter().find(|d| d.destination == "upstream").unwrap();
        let later = Delivery {
            attempts: 1,
            next_at_ms: now_ms() + 60_000,
            last_status: Some(500),
            ..upstream.delivery.clone()
        };
        spool.reschedule(upstream, &later).await.unwrap();
        assert!(spool.due(now_ms(), 10).unwrap().is_empty(), "not due yet");
    }
    let spool = Spool::open(&dir).unwrap();
    assert_eq!(spool.pending_len(), 1);
    let due = spool.due(now_ms() + 120_000, 10).unwrap();
    assert_eq!(due[0].delivery.last_status, Some(500));
    spool.bury(&due[0], &due[0].delivery).await.unwrap();
    assert_eq!(spool.pending_len(), 0);
    assert_eq!(spool.dead().unwrap()[0].destination, "upstream");
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Between a settle's commit and its index change (the fsync), the index names a delivery the
/// store no longer has pending; asking for what is due walks past it.
#[tokio::test]
async fn a_stale_index_key_does_not_hide_what_is_due() {
    let dir = temp("stale-due");
    let spool = Spool::open(&dir).unwrap();
    let up = ["up".to_owned()];
    for i in 0..3 {
        spool.accept(&event(i), &up, Vec::new()).await.unwrap();
    }
    let first = spool.due(now_ms(), 1).unwrap().remove(0);
    // The store's half of a settle, without the index's.
    spool
        .commit(vec![Op::Remove(
            Table::Pending,
            delivery_key(first.seq, &first.destination),
        )])
        .await
        .unwrap();
    let due = spool.due(now_ms(), 1).unwrap();
    assert_eq!(due.len(), 1, "the next due delivery, not nothing");
    assert_ne!(due[0].seq, first.seq);
    assert_eq!(spool.due(now_ms(), 10).unwrap().len(), 2);
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `take_due` skips (and puts back) what the store settled before the index followed, and
/// fills its limit with what is there.
#[tokio::test]
async fn take_due_passes_over_a_stale_entry_and_takes_each_delivery_once() {
    let dir = temp("stale-take");
    let spool = Spool::open(&dir).unwrap();
    let up = ["up".to_owned()];
    for i in 0..3 {
        spool.accept(&event(i), &up, Vec::new()).await.unwrap();
    }
    spool
        .commit(vec![Op::Remove(Table::Pending, delivery_key(0, "up"))])
        .await
        .unwrap();
    let (taken, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
    let seqs: Vec<u64> = taken.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [1, 2]);
    let (again, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
    assert!(again.is_empty(), "in flight: not taken twice");
    spool.release(&taken[0]);
    let (again, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
    assert_eq!(again.len(), 1, "a released delivery is taken again");
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pending deliveries of one key come out one at a time across a reopen, and a dead letter
/// that blocks its key blocks it again after the reopen, until released.
#[tokio::test]
async fn ordered_keys_and_blocking_dead_letters_are_rebuilt_at_open() {
    let dir = temp("ordered-open");
    let ordered = |key: &str| Fanout {
        destination: "up".into(),
        order: Some(Order::new(key, OnDead::Block)),
    };
    {
        let spool = Spool::open(&dir).unwrap();
        for (i, key) in [(0, "a"), (1, "a"), (2, "b"), (3, "b")] {
            spool
                .accept_with_mismatches(&event(i), &[], &[ordered(key)], Vec::new())
                .await
                .unwrap();
        }
        let (taken, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
        let seqs: Vec<u64> = taken.iter().map(|d| d.seq).collect();
        assert_eq!(seqs, [0, 2], "the first of each key");
        // Key b's first becomes a dead letter: b is blocked.
        let b = taken.into_iter().find(|d| d.seq == 2).unwrap();
        spool.bury(&b, &b.delivery).await.unwrap();
        assert_eq!(spool.blocked()[0].key, "b");
    }
    let spool = Spool::open(&dir).unwrap();
    let (taken, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
    let seqs: Vec<u64> = taken.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [0], "key a from its first again; key b still blocked");
    let blocked = spool.blocked();
    assert_eq!((blocked[0].key.as_str(), blocked[0].blocked_by), ("b", 2));
    assert_eq!(spool.release_key("up", "b").await.unwrap(), Some(2));
    assert_eq!(spool.release_key("up", "b").await.unwrap(), None);
    let (taken, _) = spool.take_due(now_ms(), 10, |_| usize::MAX).unwrap();
    assert_eq!(taken.iter().map(|d| d.seq).collect::<Vec<_>>(), [3]);
    drop(spool);
    // Released stays released.
    let spool = Spool::open(&dir).unwrap();
    assert!(spool.blocked().is_empty());
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Deliveries stored before ordering existed (no `order`) read unchanged.
#[test]
fn delivery_records_of_the_earlier_layout_read_without_an_order() {
    #[derive(serde::Serialize)]
    struct Earlier {
        attempts: u32,
        first_at_ms: u64,
        next_at_ms: u64,
        last_status: Option<u16>,
        last_error: Option<String>,
        bytes: u64,
        history: Vec<Attempt>,
        settled_at_ms: Option<u64>,
    }
    let bytes = postcard::to_stdvec(&Earlier {
        attempts: 2,
        first_at_ms: 10,
        next_at_ms: 20,
        last_status: Some(503),
        last_error: Some("down".into()),
        bytes: 7,
        history: Vec::new(),
        settled_at_ms: None,
    })
    .unwrap();
    let read = decode(&bytes).unwrap();
    assert_eq!(read.attempts, 2);
    assert_eq!(read.last_error.as_deref(), Some("down"));
    assert_eq!(read.order, None);
    let mut now = read.clone();
    now.order = Some(Order::new("k", OnDead::Skip));
    assert_eq!(decode(&encode(&now).unwrap()).unwrap(), now);
}

#[tokio::test]
async fn the_due_index_finds_only_what_is_due_and_is_rebuilt_at_open() {
    let dir = temp("due-index");
    let up = ["up".to_owned()];
    // A spool written by an earlier version kept its due index in a keyspace: it goes.
    {
        let db = Database::builder(&dir).open().unwrap();
        let old = db
            .keyspace(OLD_DUE_TABLE, KeyspaceCreateOptions::default)
            .unwrap();
        // Its keys: next attempt time, sequence number, destination.
        let mut key = 1u64.to_be_bytes().to_vec();
        key.extend_from_slice(&99u64.to_be_bytes());
        key.extend_from_slice(b"up");
        old.insert(key, []).unwrap();
        db.persist(PersistMode::SyncAll).unwrap();
    }
    {
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(spool.oldest_pending_age().unwrap(), None);
        for i in 0..3 {
            spool.accept(&event(i), &up, Vec::new()).await.unwrap();
        }
        assert!(spool.oldest_pending_age().unwrap().is_some());
        // Two are retried much later; one stays due.
        for due in spool.due(now_ms(), 10).unwrap().iter().take(2) {
            let later = Delivery {
                attempts: 1,
                next_at_ms: now_ms() + 3_600_000,
                ..due.delivery.clone()
            };
            spool.reschedule(due, &later).await.unwrap();
        }
        assert_eq!(spool.due(now_ms(), 10).unwrap().len(), 1);
        assert_eq!(
            spool.due(now_ms() + 7_200_000, 2).unwrap().len(),
            2,
            "the limit holds"
        );
        let index = spool.due.lock().unwrap();
        assert_eq!(index.len(), 3, "one index entry per pending delivery");
    }
    let spool = Spool::open(&dir).unwrap();
    assert_eq!(spool.due(now_ms(), 10).unwrap().len(), 1);
    assert_eq!(spool.due(now_ms() + 7_200_000, 10).unwrap().len(), 3);
    drop(spool);
    let db = Database::builder(&dir).open().unwrap();
    assert!(
        !db.keyspace_exists(OLD_DUE_TABLE),
        "the old index keyspace is deleted"
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_fsyncs() {
    let dir = temp("group");
    let spool = Arc::new(Spool::open(&dir).unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let spool = Arc::clone(&spool);
            tokio::spawn(async move { spool.append(&event(i)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(spool.events().count(), 200);
    // Each commit is one fsync; 200 concurrent writers must not need 200 of them.
    assert!(spool.commits() < 200, "{} commits", spool.commits());
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_writer_hands_memtables_to_fjall_before_fjall_would_ask() {
    // fjall asks for a rotation itself only past EVENTS_MEMTABLE_BYTES; the writer rotates at
    // half of it (see `rotate_full_memtables`), so 3/4 of it written must reach a table file.
    let dir = temp("rotate");
    let spool = Spool::open(&dir).unwrap();
    let body = vec![b'x'; 4096];
    let events = (EVENTS_MEMTABLE_BYTES * 3 / 4) as usize / body.len();
    for i in 0..events {
        let mut stored = event(i as u64);
        stored.body.clone_from(&body);
        spool.append(&stored).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while spool.table(Table::Events).table_count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no memtable of events was flushed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(spool);
    let _ = std::fs::remove_dir_all(&dir);
}
