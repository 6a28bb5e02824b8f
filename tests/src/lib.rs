//! Shared helpers of the integration tests: connection to the test cluster.
