//! Test doubles shared by the engine and mirror tests (`mod support;`). Each
//! test crate uses only some of them.
#![allow(dead_code)]

pub mod notes;
pub mod racing_table;
