//! The one minijinja environment: templates, strict undefined, escaping formatter.

use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, UndefinedBehavior};
use serde::Serialize;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::escape;

/// Templates compiled into the binary, by name. The name's ending picks the escaping.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "netplan.yaml.j2",
        include_str!("../../../templates/netplan.yaml.j2"),
    ),
    (
        "networkd.network.j2",
        include_str!("../../../templates/networkd.network.j2"),
    ),
    (
        "networkd.netdev.j2",
        include_str!("../../../templates/networkd.netdev.j2"),
    ),
    (
        "ifcfg.sh.j2",
        include_str!("../../../templates/ifcfg.sh.j2"),
    ),
    (
        "route.sh.j2",
        include_str!("../../../templates/route.sh.j2"),
    ),
    (
        "route6.sh.j2",
        include_str!("../../../templates/route6.sh.j2"),
    ),
    (
        "keyfile.nmconnection.j2",
        include_str!("../../../templates/keyfile.nmconnection.j2"),
    ),
    (
        "sriov.rules.j2",
        include_str!("../../../templates/sriov.rules.j2"),
    ),
    (
        "plumber-sriov.sh.j2",
        include_str!("../../../templates/plumber-sriov.sh.j2"),
    ),
    (
        "links.rules.j2",
        include_str!("../../../templates/links.rules.j2"),
    ),
    (
        "plumber-link.sh.j2",
        include_str!("../../../templates/plumber-link.sh.j2"),
    ),
    (
        "plumber-ovs.sh.j2",
        include_str!("../../../templates/plumber-ovs.sh.j2"),
    ),
    (
        "plumber-ovs.service.j2",
        include_str!("../../../templates/plumber-ovs.service.j2"),
    ),
];

/// The escaping for a template, from its name: `.sh` shell words (ifcfg and route files are sourced by
/// shell), `.yaml` YAML scalars, `.nmconnection` GLib key-file values, `.rules` udev values, and
/// `.network`/`.netdev`/`.service` systemd values.
pub fn escape_kind(name: &str) -> &'static str {
    let base = name.strip_suffix(".j2").unwrap_or(name);
    match base.rsplit('.').next().unwrap_or("") {
        "sh" => "shell",
        "yaml" => "yaml",
        "nmconnection" => "keyfile",
        "rules" => "udev",
        "network" | "netdev" | "service" => "systemd",
        _ => "refuse",
    }
}

fn format_value(
    out: &mut Output,
    state: &State,
    v: &Value,
) -> std::result::Result<(), minijinja::Error> {
    let kind = match state.auto_escape() {
        AutoEscape::Custom(k) => k,
        _ => "refuse",
    };
    let fail = |msg: String| minijinja::Error::new(ErrorKind::InvalidOperation, msg);
    if v.is_undefined() || v.is_none() {
        return Err(fail("a template printed an undefined or none value".into()));
    }
    if v.is_safe() {
        // Only Rust code makes safe strings (the header); the `safe` filter is disabled below.
        return out
            .write_str(v.as_str().unwrap_or_default())
            .map_err(minijinja::Error::from);
    }
    let text = match v.kind() {
        ValueKind::Bool => {
            let b = v.is_true();
            match kind {
                "shell" => if b { "yes" } else { "no" }.to_string(),
                _ => if b { "true" } else { "false" }.to_string(),
            }
        }
        ValueKind::Number => v.to_string(),
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default();
            match kind {
                "shell" => escape::shell(s),
                "yaml" => escape::yaml(s),
                "keyfile" => escape::keyfile(s).map_err(fail)?,
                "udev" => escape::udev(s).map_err(fail)?,
                "systemd" => escape::networkd(s).map_err(fail)?,
                _ => return Err(fail(format!("no escaping known for {kind}"))),
            }
        }
        other => {
            return Err(fail(format!(
                "a template printed a {other} value; print its items"
            )))
        }
    };
    out.write_str(&text).map_err(minijinja::Error::from)
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|name| AutoEscape::Custom(escape_kind(name)));
        env.set_formatter(format_value);
        env.add_filter(
            "safe",
            |_v: Value| -> std::result::Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    "the safe filter is disabled: values are escaped by construction",
                ))
            },
        );
        // `{{ words|udev_words }}`: a list of values as space-separated words inside one udev value (the
        // arguments of a RUN program). Each word goes through the udev escaper, so this is the same
        // escaping as printing them one by one, in one call instead of a template loop per word (a PF
        // with 64 VFs has hundreds of arguments).
        env.add_filter(
            "udev_words",
            |words: Vec<Value>| -> std::result::Result<Value, minijinja::Error> {
                let mut out = String::new();
                for w in words {
                    let text = match w.kind() {
                        ValueKind::String => w.as_str().unwrap_or_default().to_string(),
                        ValueKind::Number => w.to_string(),
                        other => {
                            return Err(minijinja::Error::new(
                                ErrorKind::InvalidOperation,
                                format!("udev_words got a {other}"),
                            ))
                        }
                    };
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(
                        &escape::udev(&text)
                            .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e))?,
                    );
                }
                Ok(Value::from_safe_string(out))
            },
        );
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("built-in template {name} does not compile: {e:#}"));
        }
        env
    })
}

/// Render template `name` with `ctx` plus `header` (trusted comment text) into the file at `artifact`.
pub fn render_template<S: Serialize>(
    name: &str,
    artifact: &str,
    header: &str,
    ctx: &S,
) -> Result<String> {
    let tmpl = env().get_template(name).map_err(|e| Error::Render {
        artifact: artifact.to_string(),
        message: format!("{e:#}"),
    })?;
    let ctx = minijinja::context! { header => Value::from_safe_string(header.to_string()), ..Value::from_serialize(ctx) };
    tmpl.render(ctx).map_err(|e| Error::Render {
        artifact: artifact.to_string(),
        message: format!("{e:#}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(escape_kind("ifcfg.sh.j2"), "shell");
        assert_eq!(escape_kind("netplan.yaml.j2"), "yaml");
        assert_eq!(escape_kind("keyfile.nmconnection.j2"), "keyfile");
        assert_eq!(escape_kind("sriov.rules.j2"), "udev");
        assert_eq!(escape_kind("networkd.netdev.j2"), "systemd");
        assert_eq!(escape_kind("x.txt.j2"), "refuse");
    }

    #[test]
    fn every_template_compiles() {
        let _ = env();
    }
}
