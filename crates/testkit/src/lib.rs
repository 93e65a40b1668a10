//! Test harness: starts rookery servers on free loopback ports with temporary data
