//! Store hot-path benchmark: RocksDB counter updates and check-and-charge (WAL on, no fsync per
//! op; each timed loop ends with `sync`, so the store's writer thread is included: run under
//! `taskset -c 0` for the one-core figure), then the same against a local `redis-server` started on a free port (pipelined by running
//! many calls concurrently over one multiplexed connection). Also prints p50/p99 latency of
//! check-and-charge, which criterion does not report.
//!
//! `cargo bench --bench store`

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aupgate::store::redis::RedisStore;
use aupgate::store::rocks::RocksStore;
use aupgate::store::{Key, RateStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const DAY: Duration = Duration::from_secs(86_400);
const KEYS: usize = 1024;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn keys() -> Vec<Key> {
    (0..KEYS)
        .map(|i| Key::new("quota.rcpts", &format!("tenant{}", i % 64)).part_u64(i as u64))
        .collect()
}

fn percentiles(rt: &tokio::runtime::Runtime, s: &dyn RateStore, label: &str) {
    let keys = keys();
    let now = now_ms();
    let mut lat: Vec<Duration> = Vec::with_capacity(100_000);
    rt.block_on(async {
        for i in 0..100_000usize {
            let t = Instant::now();
            let _ = s
                .counter_check_and_add(&keys[i % KEYS], 1, u64::MAX, now, DAY)
                .await
                .expect("cac");
            lat.push(t.elapsed());
        }
    });
    lat.sort();
    println!(
        "{label} check-and-charge latency: p50 {:?} p99 {:?} p99.9 {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() * 999 / 1000]
    );
}

/// Runs `op(0..iters)` and returns the time until the store's writer has applied it all (the
/// RocksDB store writes behind, so the figure includes its writer's work).
async fn timed(store: &RocksStore, iters: u64, mut op: impl AsyncFnMut(usize)) -> Duration {
    let t = Instant::now();
    for i in 0..iters as usize {
        op(i).await;
    }
    store.sync().await.expect("sync");
    t.elapsed()
}

fn rocks(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let store = RocksStore::open(dir.path(), DAY).expect("open");
    let keys = keys();
    let now = now_ms();
    let mut g = c.benchmark_group("rocksdb");
    g.throughput(Throughput::Elements(1));
    g.bench_function("counter_add", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |i| {
                store.counter_add(&keys[i % KEYS], 1, now, DAY).await.expect("add");
            }))
        })
    });
    // Every charge to a key of its own: the writer cannot fold anything (the key is built in
    // the loop, as a check builds it).
    let mut unique = 0u64;
    g.bench_function("counter_add_distinct_keys", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |_| {
                unique += 1;
                let key = Key::new("quota.unique", "tenant").part_u64(unique);
                store.counter_add(&key, 1, now, DAY).await.expect("add");
            }))
        })
    });
    // What an accepted message does: several counters charged in one write batch.
    const BATCH: usize = 64;
    let batches: Vec<Vec<(Key, u64, Duration)>> = (0..KEYS / BATCH)
        .map(|b| {
            (0..BATCH)
                .map(|i| (keys[(b * BATCH + i) % KEYS].clone(), 1, DAY))
                .collect()
        })
        .collect();
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("counter_add_many_64", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |i| {
                store
                    .counter_add_many(&batches[i % batches.len()], now)
                    .await
                    .expect("add many");
            }))
        })
    });
    // Exactly what one accepted message charges: its 4 quota counters in one batch.
    let quota_batches: Vec<Vec<(Key, u64, Duration)>> = (0..KEYS / 4)
        .map(|b| (0..4).map(|i| (keys[(b * 4 + i) % KEYS].clone(), 1, DAY)).collect())
        .collect();
    g.throughput(Throughput::Elements(4));
    g.bench_function("counter_add_many_4", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |i| {
                store
                    .counter_add_many(&quota_batches[i % quota_batches.len()], now)
                    .await
                    .expect("add many");
            }))
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("counter_check_and_add", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |i| {
                store
                    .counter_check_and_add(&keys[i % KEYS], 1, u64::MAX, now, DAY)
                    .await
                    .expect("cac");
            }))
        })
    });
    g.bench_function("set_check_and_add_cap20", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed(&store, iters, async |i| {
                store
                    .set_check_and_add(&keys[i % KEYS], &(i % 40).to_be_bytes(), now, DAY, 20)
                    .await
                    .expect("set");
            }))
        })
    });
    g.finish();
    percentiles(&rt, &store, "rocksdb");
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis(c: &mut Criterion) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        println!("redis-server not on PATH: skipping the redis benchmarks");
        return;
    };
    let _server = Server(child);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let store: Arc<dyn RateStore> = rt.block_on(async {
        for _ in 0..100 {
            if let Ok(s) =
                RedisStore::connect(&[format!("redis://127.0.0.1:{port}")], Duration::from_secs(2), DAY).await
            {
                return Arc::new(s) as Arc<dyn RateStore>;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    });
    let keys = Arc::new(keys());
    let now = now_ms();
    const INFLIGHT: usize = 64;
    let mut g = c.benchmark_group("redis");
    g.throughput(Throughput::Elements(1));
    for (name, check) in [
        ("counter_add_pipelined", false),
        ("counter_check_and_add_pipelined", true),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    let mut set = tokio::task::JoinSet::new();
                    for w in 0..INFLIGHT {
                        let (s, keys) = (Arc::clone(&store), Arc::clone(&keys));
                        set.spawn(async move {
                            let mut i = w;
                            while (i as u64) < iters {
                                let k = &keys[i % KEYS];
                                if check {
                                    s.counter_check_and_add(k, 1, u64::MAX, now, DAY).await.expect("cac");
                                } else {
                                    s.counter_add(k, 1, now, DAY).await.expect("add");
                                }
                                i += INFLIGHT;
                            }
                        });
                    }
                    while set.join_next().await.is_some() {}
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
    percentiles(&rt, store.as_ref(), "redis (unpipelined, one at a time)");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(20);
    targets = rocks, redis
}
criterion_main!(benches);
