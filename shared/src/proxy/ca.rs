//! The local certificate authority the proxy issues its vendor certificates
//! with. One per user, created on first use in a directory of its own (0700)
//! with its key readable by its owner alone (0600) — never shipped, shared or
//! checked in, so trusting it trusts only this machine's proxy. Leaf
//! certificates are issued on demand per host name and kept for the life of
//! the process.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The CA's certificate, what clients are told to trust.
pub const CERT_FILE: &str = "ca.pem";
/// Its private key (PKCS#8 PEM, mode 0600).
pub const KEY_FILE: &str = "ca-key.pem";
/// The CA followed by the system's roots: for clients whose setting replaces
/// their trust store (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `CURL_CA_BUNDLE`)
/// rather than adding to it, so their other HTTPS traffic keeps working.
pub const BUNDLE_FILE: &str = "bundle.pem";

/// Where the system keeps its roots, first found wins (Debian/Ubuntu, Fedora/RHEL,
/// openSUSE, Alpine, macOS with Homebrew's OpenSSL).
const SYSTEM_ROOTS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
    "/opt/homebrew/etc/ca-certificates/cert.pem",
];

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot issue a certificate for {host}: {message}")]
    Issue { host: String, message: String },
    #[error("{path} is readable by others (mode {mode:o}); it must be 0600")]
    Exposed { path: PathBuf, mode: u32 },
}

/// The CA and the leaf certificates it issued in this process.
pub struct LocalCa {
    dir: PathBuf,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("dir", &self.dir).finish()
    }
}

impl LocalCa {
    /// The CA in `dir`, created there when the directory holds none.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if !key_path.exists() {
            create(dir)?;
        }
        check_private(&key_path)?;
        let key_pem = fs::read_to_string(&key_path).map_err(io(&key_path))?;
        let cert_pem = fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
        let invalid = |path: &Path, e: rcgen::Error| CaError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid(&key_path, e))?;
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| CaError::Invalid {
                path: cert_path.clone(),
                message: e.to_string(),
            })?;
        let issuer =
            Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| invalid(&cert_path, e))?;
        let ca = LocalCa {
            dir: dir.to_path_buf(),
            cert_der,
            issuer,
            leaves: Mutex::new(HashMap::new()),
        };
        ca.write_bundle(&cert_pem)?;
        Ok(ca)
    }

    /// The CA certificate's file.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CERT_FILE)
    }

    /// The CA plus the system roots (see [`BUNDLE_FILE`]).
    pub fn bundle_path(&self) -> PathBuf {
        self.dir.join(BUNDLE_FILE)
    }

    /// The CA certificate (DER), for clients built in-process (tests, benches).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// A certificate and key for `host`, issued on its first use and cached.
    pub fn leaf(&self, host: &str) -> Result<Arc<CertifiedKey>, CaError> {
        let host = host.to_ascii_lowercase();
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(leaf) = leaves.get(&host) {
            return Ok(leaf.clone());
        }
        let leaf = Arc::new(self.issue(&host)?);
        leaves.insert(host, leaf.clone());
        Ok(leaf)
    }

    fn issue(&self, host: &str) -> Result<CertifiedKey, CaError> {
        let fail = |e: &dyn std::fmt::Display| CaError::Issue {
            host: host.to_string(),
            message: e.to_string(),
        };
        let mut params = CertificateParams::new(vec![host.to_string()]).map_err(|e| fail(&e))?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        // Under Apple's and Chrome's 398-day ceiling for leaf certificates.
        params.not_after = now + time::Duration::days(397);
        let key = KeyPair::generate().map_err(|e| fail(&e))?;
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| fail(&e))?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signer =
            rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der).map_err(|e| fail(&e))?;
        Ok(CertifiedKey::new(
            vec![cert.der().clone(), self.cert_der.clone()],
            signer,
        ))
    }

    /// Rewrites the bundle when the CA is not its first certificate (new CA)
    /// or it is missing; the system roots are read as they are at that moment.
    fn write_bundle(&self, cert_pem: &str) -> Result<(), CaError> {
        let path = self.bundle_path();
        if fs::read_to_string(&path).is_ok_and(|b| b.starts_with(cert_pem)) {
            return Ok(());
        }
        let roots = SYSTEM_ROOTS
            .iter()
            .find_map(|p| fs::read_to_string(p).ok())
            .unwrap_or_default();
        write_file(&path, format!("{cert_pem}\n{roots}").as_bytes(), 0o644)
    }
}

/// SNI → the leaf for that name. Without SNI (an IP literal) there is no name
/// to issue for, and the handshake fails.
impl ResolvesServerCert for LocalCa {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?;
        match self.leaf(name) {
            Ok(leaf) => Some(leaf),
            Err(e) => {
                tracing::warn!(error = %e, "proxy: no certificate");
                None
            }
        }
    }
}

/// Writes a new CA into `dir`: the key first (0600), then the certificate.
fn create(dir: &Path) -> Result<(), CaError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    set_mode(dir, 0o700).map_err(io(dir))?;
    let fail = |e: rcgen::Error| CaError::Invalid {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    let key = KeyPair::generate().map_err(fail)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    // A name of its own per CA, so two trusted Mirra CAs never chain into
    // each other's leaves.
    let tag = crate::session::id::random_token(8);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("Mirra local CA {tag}"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Mirra (this machine only)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let cert = params.self_signed(&key).map_err(fail)?;
    write_file(&dir.join(KEY_FILE), key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(CERT_FILE), cert.pem().as_bytes(), 0o644)
}

/// An I/O failure on `path`, for `map_err`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to a fresh file created with `mode`, then renames it over
/// `path`, so a reader never sees half a key and the key is never readable
/// by others, not even for a moment.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CaError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    set_mode(&tmp, mode).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Refuses a key others can read: it would let them impersonate the vendors
/// to this user's applications.
#[cfg(unix)]
fn check_private(key: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(key).map_err(io(key))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CaError::Exposed {
            path: key.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_key: &Path) -> Result<(), CaError> {
    Ok(())
}
