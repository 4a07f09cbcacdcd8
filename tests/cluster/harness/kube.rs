//! A client of the test cluster for the tests themselves (an administrator, or any identity a
//! kubeconfig names): raw requests by path, so that the tests see exactly what the API server answers.
//! Each [`Kube`] has its own single-threaded tokio runtime, so a test drives it synchronously.

use std::path::Path;

use serde_json::Value;

/// An API error: the HTTP status and the server's message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status (0: no answer).
    pub code: u16,
    /// The server's message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

/// The answer of a request.
pub type Answer = Result<Value, ApiError>;

/// The field manager of the tests' own server-side applies.
pub const MANAGER: &str = "plumber-tests";

/// A client from a kubeconfig.
pub struct Kube {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Kube {
    /// A client of the cluster `kubeconfig` names, as that kubeconfig's user.
    pub fn new(kubeconfig: &Path) -> Kube {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = rt.block_on(async {
            let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
            let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap();
            kube::Client::try_from(cfg).unwrap()
        });
        Kube { rt, client }
    }

    fn send(&self, req: http::Request<Vec<u8>>) -> Answer {
        match self.rt.block_on(self.client.request_text(req)) {
            Ok(text) if text.trim().is_empty() => Ok(Value::Null),
            Ok(text) => Ok(serde_json::from_str(&text).unwrap_or(Value::String(text))),
            Err(kube::Error::Api(s)) => Err(ApiError {
                code: s.code,
                message: s.message,
            }),
            Err(e) => Err(ApiError {
                code: 0,
                message: e.to_string(),
            }),
        }
    }

    fn request(
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> http::Request<Vec<u8>> {
        let mut b = http::Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        b.body(body).unwrap()
    }

    /// GET `path`: `None` when it is not found.
    pub fn get(&self, path: &str) -> Option<Value> {
        match self.send(Self::request("GET", path, None, Vec::new())) {
            Ok(v) => Some(v),
            Err(e) if e.code == 404 => None,
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// GET `path`, whatever the answer.
    pub fn try_get(&self, path: &str) -> Answer {
        self.send(Self::request("GET", path, None, Vec::new()))
    }

    /// A server-side apply of `body` (JSON) to `path`, forced, as [`MANAGER`].
    pub fn apply(&self, path: &str, body: &Value) -> Answer {
        self.apply_raw(
            path,
            "application/apply-patch+yaml",
            body.to_string().into_bytes(),
            false,
        )
    }

    /// A server-side apply of a YAML document as written (the API server's own YAML reader reads it, as
    /// with kubectl apply --server-side); with `dry_run` nothing is stored.
    pub fn apply_yaml(&self, path: &str, yaml: &str, dry_run: bool) -> Answer {
        self.apply_raw(
            path,
            "application/apply-patch+yaml",
            yaml.as_bytes().to_vec(),
            dry_run,
        )
    }

    fn apply_raw(&self, path: &str, ct: &str, body: Vec<u8>, dry_run: bool) -> Answer {
        let mut q = format!("{path}?fieldManager={MANAGER}&force=true&fieldValidation=Strict");
        if dry_run {
            q += "&dryRun=All";
        }
        self.send(Self::request("PATCH", &q, Some(ct), body))
    }

    /// POST `body` to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(Self::request(
            "POST",
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        ))
    }

    /// DELETE `path`.
    pub fn delete(&self, path: &str) -> Answer {
        self.send(Self::request("DELETE", path, None, Vec::new()))
    }
}

/// A kubeconfig for the API server on 127.0.0.1:`port` (inside a node's network namespace, the relay
/// there) with a bearer token, in namespace `namespace`.
pub fn kubeconfig(port: u16, ca: &Path, token: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\nusers:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: user\n    namespace: {namespace}\ncurrent-context: test\n",
        ca.display()
    )
}
