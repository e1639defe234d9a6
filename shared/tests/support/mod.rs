//! Test doubles shared by the engine and mirror tests (`mod support;`).

pub mod racing_table;
