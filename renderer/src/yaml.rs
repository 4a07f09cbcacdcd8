//! The YAML plumber writes (`plumber show`, `plumber-render --node-config`, `-o yaml`, the CRDs, the
//! netplan templates' values), readable alike by YAML 1.1 readers (PyYAML, so Ansible; go-yaml v2) and YAML 1.2
//! ones (serde_yaml, netplan's libyaml).
//!
//! serde_yaml quotes only what YAML 1.2 would mistype, so `pciAddr: 0000:03:00.0` comes out plain and a
//! YAML 1.1 reader takes it for the number 180.0 (sexagesimal), `on` for `true`, `2024-01-01` for a date.
//! Here one decision, [`needs_quotes`], says which strings are written plain: only those that are plainly
//! safe under both versions (a conservative pattern, not a list of what is dangerous); every other string
//! is double-quoted with [`quote`]. [`to_string`] writes any `Serialize` value in block style with it.

use std::fmt::Write as _;

use serde::Serialize;
use serde_yaml::Value;

/// The words a YAML 1.1 reader resolves to a boolean or null (compared without case, so `yEs` is quoted
/// too); YAML 1.2's `true`/`false`/`null` are among them; `nan` and `inf` because some readers take them
/// without their dot.
const WORDS: &[&str] = &[
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf",
];

/// Whether `s` must be quoted to come back as the same string from every YAML reader. A string is written
/// plain only when it matches `[A-Za-z_/][A-Za-z0-9_./-]*` and is not one of the YAML 1.1 boolean or null
/// words: no digit, sign, dot or indicator first (numbers, `.inf`, dates, `1:20`, `<<`, `=`, `~`), no
/// colon, space or `#` inside (MAC and PCI addresses, `key: value`, comments).
pub fn needs_quotes(s: &str) -> bool {
    let mut bytes = s.bytes();
    let safe_first =
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'/');
    let safe_rest = bytes.all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
    !(safe_first && safe_rest) || WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// `s` as a YAML double-quoted scalar: `"` and `\` escaped, line breaks and tabs as `\n`, `\r`, `\t`, and
/// every character YAML does not allow in a document, or reads as a line break (NEL, U+2028, U+2029), or
/// a byte order mark, as a `\x`, `\u` or `\U` escape (valid YAML 1.1 and 1.2).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if !printable(c) => {
                let n = c as u32;
                let _ = match n {
                    0..=0xff => write!(out, "\\x{n:02x}"),
                    0x100..=0xffff => write!(out, "\\u{n:04x}"),
                    _ => write!(out, "\\U{n:08x}"),
                };
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// YAML's printable set (`c-printable`), less the characters readers take as line breaks (NEL, LS, PS)
/// and the byte order mark.
fn printable(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x10000..=0x10ffff)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `s` as a YAML scalar: plain when [`needs_quotes`] says it may be, double-quoted otherwise.
pub fn scalar(s: &str) -> String {
    if needs_quotes(s) {
        quote(s)
    } else {
        s.to_string()
    }
}

/// `value` as a YAML document in block style, fields in their serialisation order, every string through
/// [`scalar`]. Numbers, booleans and null are written as serde_yaml writes them; an enum variant as a
/// one-key mapping (`name: eno2`), as in JSON, not as serde_yaml's tag (`!name eno2`).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_yaml::Error> {
    let v = untag(serde_yaml::to_value(value)?);
    let mut out = String::new();
    match &v {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    Ok(out)
}

/// `v` with every tag (serde_yaml's `!variant value` for an externally tagged enum) replaced by the
/// one-key mapping `variant: value`, as JSON has it: YAML 1.1 readers refuse unknown tags (PyYAML's
/// `safe_load`), and the YAML then holds the same data as the JSON output.
fn untag(v: Value) -> Value {
    match v {
        Value::Tagged(t) => {
            let key = t.tag.to_string().trim_start_matches('!').to_string();
            let mut m = serde_yaml::Mapping::new();
            m.insert(Value::String(key), untag(t.value));
            Value::Mapping(m)
        }
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(untag).collect()),
        Value::Mapping(m) => {
            Value::Mapping(m.into_iter().map(|(k, v)| (untag(k), untag(v))).collect())
        }
        v => v,
    }
}

/// A value that fits on one line: a scalar or an empty collection.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => serde_yaml::to_string(n)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| n.to_string()),
        Value::String(s) => scalar(s),
        Value::Sequence(_) => "[]".to_string(),
        Value::Mapping(_) => "{}".to_string(),
        Value::Tagged(t) => inline(&untag(Value::Tagged(t.clone()))),
    }
}

/// Whether `v` is written on lines of its own (a non-empty collection).
fn is_block(v: &Value) -> bool {
    match v {
        Value::Sequence(s) => !s.is_empty(),
        Value::Mapping(m) => !m.is_empty(),
        _ => false,
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A block collection `v` (see [`is_block`]) at `indent`.
fn block(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) => mapping(out, m, indent),
        Value::Sequence(s) => sequence(out, s, indent),
        _ => unreachable!("block() is called on collections only"),
    }
}

fn mapping(out: &mut String, m: &serde_yaml::Mapping, indent: usize) {
    for (k, v) in m {
        pad(out, indent);
        out.push_str(&inline(k));
        out.push(':');
        if is_block(v) {
            out.push('\n');
            // A sequence under a key is not indented further (serde_yaml's and kubectl's style).
            let step = if matches!(v, Value::Sequence(_)) {
                0
            } else {
                2
            };
            block(out, v, indent + step);
        } else {
            out.push(' ');
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, s: &[Value], indent: usize) {
    for item in s {
        pad(out, indent);
        out.push('-');
        if is_block(item) {
            // The item's first line goes after the dash: write it indented, then drop the indentation
            // of its first line.
            let mut text = String::new();
            block(&mut text, item, indent + 2);
            out.push(' ');
            out.push_str(&text[indent + 2..]);
        } else {
            out.push(' ');
            out.push_str(&inline(item));
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plainly_safe_strings_stay_plain() {
        for s in [
            "eno2",
            "eno2.1000",
            "ens1f0v3",
            "HostNetwork",
            "plumber.k8s.pf9.io/v1",
            "/etc/netplan/60-plumber.yaml",
            "_x",
            "active-backup",
            "vfio-pci",
        ] {
            assert!(!needs_quotes(s), "{s} should be plain");
        }
        for s in [
            "",
            "on",
            "off",
            "On",
            "OFF",
            "yes",
            "No",
            "y",
            "n",
            "Y",
            "true",
            "False",
            "~",
            "null",
            "NULL",
            "1_000",
            "0o12",
            "012",
            "1:20",
            ".5",
            "1e3",
            "0b101",
            ".inf",
            "-.inf",
            ".NaN",
            "2024-01-01",
            "=",
            "<<",
            "0000:03:00.0",
            "02:00:00:00:00:10",
            "10:20:30:40:50:59",
            "0x1f",
            "1000",
            "+1",
            "-1",
            "192.168.1.1/24",
            "2001:db8::1/64",
            "a: b",
            "a #b",
            "a b",
            "layer3+4",
            "- x",
            "!tag",
            "&a",
            "*a",
            "[a]",
            "{a}",
            "'a'",
            "\"a\"",
            "%x",
            "@x",
            "`x`",
            "|",
            ">",
            "?",
            "a\nb",
            "é",
        ] {
            assert!(needs_quotes(s), "{s:?} should be quoted");
        }
    }

    #[test]
    fn quoting_escapes_what_yaml_cannot_carry() {
        assert_eq!(quote("0000:03:00.0"), "\"0000:03:00.0\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("a\nb\tc\rd"), "\"a\\nb\\tc\\rd\"");
        assert_eq!(quote("\0\u{1b}\u{7f}"), "\"\\x00\\x1b\\x7f\"");
        assert_eq!(quote("\u{85}\u{2028}\u{feff}"), "\"\\x85\\u2028\\ufeff\"");
        assert_eq!(quote("é ✓"), "\"é ✓\"");
        assert_eq!(quote("\u{fffe}"), "\"\\ufffe\"");
    }

    #[test]
    fn every_quoted_string_reads_back_the_same_in_yaml_1_2() {
        for s in [
            "0000:03:00.0",
            "on",
            "a\"b\\c\n\t\r\0\u{7f}\u{85}\u{2028}\u{feff}é",
            "~",
            "",
        ] {
            let text = to_string(&vec![s]).unwrap();
            let back: Vec<String> = serde_yaml::from_str(&text).unwrap();
            assert_eq!(back, vec![s.to_string()], "{text}");
        }
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Nic {
        pf_name: String,
        pci_addr: String,
        mtu: u32,
        up: bool,
        mac: Option<String>,
        vfs: Vec<Vf>,
        empty: Vec<u32>,
        none: std::collections::BTreeMap<String, u32>,
        nested: Vec<Vec<u32>>,
    }

    #[derive(Serialize)]
    struct Vf {
        id: u32,
        mac: String,
    }

    #[test]
    fn block_style_in_field_order() {
        let nic = Nic {
            pf_name: "ens1f0".into(),
            pci_addr: "0000:03:00.0".into(),
            mtu: 9000,
            up: true,
            mac: None,
            vfs: vec![
                Vf {
                    id: 0,
                    mac: "02:00:00:00:00:10".into(),
                },
                Vf {
                    id: 1,
                    mac: "on".into(),
                },
            ],
            empty: vec![],
            none: Default::default(),
            nested: vec![vec![1, 2], vec![]],
        };
        let text = to_string(&vec![nic]).unwrap();
        assert_eq!(
            text,
            "- pfName: ens1f0\n  pciAddr: \"0000:03:00.0\"\n  mtu: 9000\n  up: true\n  mac: null\n  vfs:\n  - id: 0\n    mac: \"02:00:00:00:00:10\"\n  - id: 1\n    mac: \"on\"\n  empty: []\n  none: {}\n  nested:\n  - - 1\n    - 2\n  - []\n"
        );
        let back: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back[0]["vfs"][1]["mac"], Value::String("on".into()));
        assert_eq!(back[0]["nested"][0][1], Value::Number(2.into()));
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Selector {
        Name(String),
        PciAddr(String),
    }

    #[test]
    fn enum_variants_are_one_key_mappings_as_in_json() {
        let v = vec![
            Selector::Name("eno2".into()),
            Selector::PciAddr("0000:03:00.0".into()),
        ];
        let text = to_string(&v).unwrap();
        assert_eq!(text, "- name: eno2\n- pciAddr: \"0000:03:00.0\"\n");
        // The same data as the JSON output.
        let back: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, serde_json::to_value(&v).unwrap());
    }

    #[test]
    fn scalars_and_empty_documents() {
        assert_eq!(to_string("on").unwrap(), "\"on\"\n");
        assert_eq!(to_string(&1.5f64).unwrap(), "1.5\n");
        assert_eq!(to_string(&f64::INFINITY).unwrap(), ".inf\n");
        assert_eq!(to_string(&Option::<u32>::None).unwrap(), "null\n");
        assert_eq!(to_string(&Vec::<u32>::new()).unwrap(), "[]\n");
    }
}
