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

    /// The same behaviour with participants spread over several hash tags (as on a cluster).
    mod sharded {
        use super::store;
        baton_hot::conformance_suite!(store(4).await);
    }
}
