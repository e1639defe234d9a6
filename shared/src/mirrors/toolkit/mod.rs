//! The vendor-neutral mirror toolkit: what every vendor's mirror shares.
//!
//! * [`params`] — parameter tables generated from a vendor's OpenAPI, and the
//!   validator that checks requests against them.

pub mod params;
