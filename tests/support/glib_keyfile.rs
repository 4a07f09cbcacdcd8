// A GLib key-file reader for tests (NetworkManager keyfiles), shared by the keyfile renderer's unit
// tests and the nmcli integration tests: both `include!` this file, so there is one copy.

/// Groups in order, each with its keys in order and values unescaped.
pub type Keyfile = Vec<(String, Vec<(String, String)>)>;

/// A GLib key file, parsed as `g_key_file_load_from_data` + `g_key_file_get_string` read it:
/// groups in order, each with its keys in order, values unescaped. Stricter than GLib where GLib
/// would merge (a group or key given twice is an error here).
pub fn parse(text: &str) -> std::result::Result<Keyfile, String> {
    let mut groups: Keyfile = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| format!("unterminated group line {line:?}"))?;
            if !rest[end + 1..]
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .is_empty()
            {
                return Err(format!("text after a group name: {line:?}"));
            }
            let name = &rest[..end];
            if groups.iter().any(|(g, _)| g == name) {
                return Err(format!("group {name:?} twice"));
            }
            groups.push((name.to_string(), Vec::new()));
            continue;
        }
        let (k, v) = match line.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k, v),
            _ => return Err(format!("not a key-value pair, group or comment: {line:?}")),
        };
        let key = k.trim_end_matches(|c: char| c.is_ascii_whitespace());
        if key.contains(['[', ']']) {
            return Err(format!("bad key {key:?}"));
        }
        let value = unescape(v.trim_start_matches(|c: char| c.is_ascii_whitespace()))?;
        let (_, keys) = groups
            .last_mut()
            .ok_or_else(|| format!("key {key:?} before any group"))?;
        if keys.iter().any(|(x, _)| x == key) {
            return Err(format!("key {key:?} twice"));
        }
        keys.push((key.to_string(), value));
    }
    Ok(groups)
}

/// `g_key_file_parse_value_as_string`.
fn unescape(v: &str) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(o) => return Err(format!("invalid escape \\{o} in {v:?}")),
            None => return Err(format!("escape at end of {v:?}")),
        }
    }
    Ok(out)
}

pub fn get<'a>(
    kf: &'a Keyfile,
    group: &str,
    key: &str,
) -> Option<&'a str> {
    kf.iter()
        .find(|(g, _)| g == group)
        .and_then(|(_, ks)| ks.iter().find(|(k, _)| k == key))
        .map(|(_, v)| v.as_str())
}

