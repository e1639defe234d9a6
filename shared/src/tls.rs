//! The process's TLS crypto provider. reqwest runs over rustls without a
//! provider of its own (aws-lc-rs, which the AWS SDK builds anyway, is the
//! only one compiled in), so one must be installed before the first HTTP
//! client is built, even one that only speaks plain HTTP: building a client
//! sets up its TLS side too, and panics without a provider.

/// Installs aws-lc-rs as the process's provider; idempotent, and harmless when
/// another part of the process installed one first.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}
