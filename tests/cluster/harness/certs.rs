//! The cluster's keys, made with the `openssl` CLI (Debian's `openssl`, installed by ci-test.sh): a
//! CA, the API server's serving certificate for 127.0.0.1 and localhost signed by it, and the
//! service-account token signing key pair. ECDSA P-256 throughout: generated in milliseconds, and what
//! rustls (the agent's client) and the API server both take. The openssl CLI rather than the rcgen
//! crate: three commands, no new dependency compiled into every test build, and the same tool an
//! administrator would use.

use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl (Debian's openssl package): {e}"));
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// Makes the keys and certificates under `dir` (`ca.crt`, `server.crt`, `server.key`, `sa.key`,
/// `sa.pub`); returns the CA's certificate.
pub fn make(dir: &Path) -> PathBuf {
    let ca_args = [
        &["req", "-x509"][..],
        EC,
        &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2"],
        &["-subj", "/CN=plumber-test-ca"],
    ]
    .concat();
    openssl(dir, &ca_args);
    let csr_args = [
        &["req"][..],
        EC,
        &["-keyout", "server.key", "-out", "server.csr"],
        &["-subj", "/CN=kube-apiserver"],
    ]
    .concat();
    openssl(dir, &csr_args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "sa.key",
        ],
    );
    openssl(dir, &["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
    dir.join("ca.crt")
}
