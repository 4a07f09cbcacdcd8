//! The templates a test makes, deleted when the test ends (also when it fails), so that a test sharing
//! the API server leaves none behind to be selected by another's nodes.

use std::cell::RefCell;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::kube::{Answer, Kube};
use super::status::template_path;

/// A test's templates.
pub struct Templates {
    admin: PathBuf,
    names: RefCell<Vec<String>>,
}

impl Templates {
    /// Templates made through the administrator of the cluster whose kubeconfig is `admin`.
    pub fn new(admin: &std::path::Path) -> Templates {
        Templates {
            admin: admin.to_path_buf(),
            names: RefCell::new(Vec::new()),
        }
    }

    /// Server-side applies template `name` with `spec`.
    pub fn apply(&self, kube: &Kube, name: &str, spec: Value) -> Answer {
        let body = json!({
            "apiVersion": "plumber.k8s.pf9.io/v1",
            "kind": "HostNetworkTemplate",
            "metadata": {"name": name},
            "spec": spec,
        });
        self.track(name);
        kube.apply(&template_path(name), &body)
    }

    /// Deletes it at the end.
    pub fn track(&self, name: &str) {
        let mut n = self.names.borrow_mut();
        if !n.iter().any(|x| x == name) {
            n.push(name.to_string());
        }
    }

    /// Deletes template `name` now.
    pub fn delete(&self, kube: &Kube, name: &str) {
        kube.delete(&template_path(name))
            .unwrap_or_else(|e| panic!("deleting template {name}: {e}"));
        self.names.borrow_mut().retain(|n| n != name);
    }
}

impl Drop for Templates {
    fn drop(&mut self) {
        let names = self.names.take();
        if names.is_empty() {
            return;
        }
        let kube = Kube::new(&self.admin);
        for n in names {
            let _ = kube.delete(&template_path(&n));
        }
    }
}
