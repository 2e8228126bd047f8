//! The conformance suite against both hot stores: in-process, and Redis on a throwaway
//! `redis-server` (or `BATON_TEST_REDIS_URL` with a unique key prefix).

use baton_hot::HotStore;
use std::sync::Arc;

mod embedded {
    use super::*;
    use baton_hot::embedded::EmbeddedStore;

    baton_hot::conformance_suite!(((), Arc::new(EmbeddedStore::new()) as Arc<dyn HotStore>));
}

mod redis {
    use super::*;
    use baton_hot::redis::RedisStore;
    use baton_testkit::TestRedis;

    async fn store(shards: u16) -> (TestRedis, Arc<dyn HotStore>) {
        let redis = TestRedis::start().await;
        let store =
            RedisStore::connect(redis.url(), redis.key_prefix(), shards).await.expect("connects to the test Redis");
        (redis, Arc::new(store))
    }

    baton_hot::conformance_suite!(store(1).await);

    /// The same behaviour with participants spread over several hash tags (as on a cluster).
    mod sharded {
        use super::store;
        baton_hot::conformance_suite!(store(4).await);
    }
}
