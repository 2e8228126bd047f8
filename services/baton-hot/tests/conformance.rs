//! The conformance suite against both hot stores: in-process (with an in-memory event sink),
//! and Redis on a throwaway `redis-server` (or `BATON_TEST_REDIS_URL` with a unique key prefix).

use baton_hot::HotStore;
use baton_hot::conformance::EventProbe;
use std::sync::Arc;

mod embedded {
    use super::*;
    use baton_hot::conformance::MemorySink;
    use baton_hot::embedded::EmbeddedStore;

    fn store() -> ((), Arc<dyn HotStore>, Arc<dyn EventProbe>) {
        let sink = Arc::new(MemorySink::default());
        ((), Arc::new(EmbeddedStore::with_sink(sink.clone())), sink)
    }

    baton_hot::conformance_suite!(store());
}

mod redis {
    use super::*;
    use baton_hot::redis::RedisStore;
    use baton_testkit::TestRedis;

    async fn store(shards: u16) -> (TestRedis, Arc<dyn HotStore>, Arc<dyn EventProbe>) {
        let redis = TestRedis::start().await;
        let store =
            RedisStore::connect(redis.url(), redis.key_prefix(), shards).await.expect("connects to the test Redis");
        let store = Arc::new(store);
        (redis, store.clone(), store)
    }

    baton_hot::conformance_suite!(store(1).await);

    /// The same behaviour through a web server worker's copy, on the worker's own connection.
    mod worker {
        use super::*;

        async fn store() -> (TestRedis, Arc<dyn HotStore>, Arc<dyn EventProbe>) {
            let redis = TestRedis::start().await;
            let shared =
                RedisStore::connect(redis.url(), redis.key_prefix(), 1).await.expect("connects to the test Redis");
            let worker = shared.worker();
            assert!(!worker.has_own_connection());
            worker.ping().await.expect("the shared connection serves the first call");
            for _ in 0..500 {
                if worker.has_own_connection() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            assert!(worker.has_own_connection(), "the worker's own connection opened after its first call");
            assert!(!shared.has_own_connection());
            (redis, Arc::new(worker), Arc::new(shared))
        }

        baton_hot::conformance_suite!(store().await);
    }

    /// The same behaviour with participants spread over several hash tags (as on a cluster).
    mod sharded {
        use super::store;
        baton_hot::conformance_suite!(store(4).await);
    }
}

/// The Redis store on a six-node Redis Cluster (three masters, three replicas) that this test
/// binary starts once; each test keeps to a key prefix of its own.
mod redis_cluster {
    use super::*;
    use baton_hot::conn::RedisTarget;
    use baton_hot::redis::RedisStore;
    use baton_testkit::TestRedisCluster;
    use baton_testkit::redis_cluster::unique_prefix;

    async fn store() -> ((), Arc<dyn HotStore>, Arc<dyn EventProbe>) {
        let cluster = tokio::task::spawn_blocking(TestRedisCluster::shared).await.expect("the cluster starts");
        let target = RedisTarget::new(&cluster.url(), true);
        let store = RedisStore::connect_to(&target, &unique_prefix(), 8).await.expect("connects to the test cluster");
        assert!(store.is_cluster());
        let store = Arc::new(store);
        ((), store.clone(), store)
    }

    baton_hot::conformance_suite!(store().await);
}
