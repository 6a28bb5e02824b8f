//! Unit tests (see below).
