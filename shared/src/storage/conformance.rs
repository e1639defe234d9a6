//! Conformance suites every backend runs.
// TODO(storage helper): implement.
