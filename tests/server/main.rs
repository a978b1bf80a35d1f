//! Integration tests: the real router on a loopback port with a fresh SQLite database per test.

mod harness;

mod binary;
mod pages;
mod probes;
mod theme;
