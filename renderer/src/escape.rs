//! Escaping, one function per output syntax. Templates never print a user value without going through one
//! of these (the minijinja formatter picks the function from the artifact kind), so a value can only end up
//! inside a file as data, never as syntax.
//!
//! Validation already restricts names to a conservative alphabet; these functions do not rely on that.
//! Where a syntax has no way to carry a character (udev rules and systemd-networkd files have no escape for
//! a double quote or a newline) the function refuses the value instead of guessing.

/// A string for error messages and comments: quotes it as Rust debug output when it holds anything that is
/// not plain printable ASCII, so a newline in a template name cannot start a new line of a generated file.
pub fn printable(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()) {
        s.to_string()
    } else {
        format!("{s:?}")
    }
}

/// POSIX shell word: bare when it only holds characters no shell treats specially, otherwise single-quoted
/// with embedded single quotes written as `'\''`. Used for ovs-vsctl scripts and ifcfg/route files, which
/// initscripts source and NetworkManager's ifcfg-rh reads with shell quoting rules. A newline inside the
/// quotes is correct shell but ifcfg-rh reads line by line; no value that reaches an ifcfg file can hold
/// one (validation refuses control characters everywhere), and the injection tests cover the rest.
pub fn shell(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.,:/@%+=".contains(&b))
        && !s.starts_with('=');
    if safe {
        s.to_string()
    } else {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            if c == '\'' {
                out.push_str("'\\''");
            } else {
                out.push(c);
            }
        }
        out.push('\'');
        out
    }
}

/// YAML scalar: plain only when every YAML 1.1 and 1.2 reader reads it back as the same string, otherwise
/// double-quoted (the one decision of [`crate::yaml::scalar`], shared with `plumber show` and
/// `--node-config`).
pub fn yaml(s: &str) -> String {
    crate::yaml::scalar(s)
}

/// GLib key-file value (NetworkManager keyfiles): backslash escapes for `\`, newline, tab, carriage return
/// and a leading space, as `g_key_file_set_string` writes them. Other control characters have no escape
/// (GLib stops a value at NUL), so they are refused.
pub fn keyfile(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' ' if i == 0 => out.push_str("\\s"),
            c if c.is_control() => {
                return Err(format!("{} cannot be written into a keyfile", printable(s)))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A value inside a udev rule's double quotes. udev has no escape for `"` or a newline, and expands `$`
/// and `%` in assignments, so only a conservative alphabet passes; anything else is refused.
pub fn udev(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:+@/".contains(&b))
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{} cannot be written into a udev rule",
            printable(s)
        ))
    }
}

/// A value in a systemd file (`.network`, `.netdev`, `.service`): one line, no leading or trailing space,
/// no control characters (systemd has no escape for them), and no `%` or `$`, which unit files expand
/// (specifiers, environment variables).
pub fn networkd(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.chars().all(|c| !c.is_control() && c != '%' && c != '$') && s.trim() == s
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{} cannot be written into a systemd-networkd file",
            printable(s)
        ))
    }
}

/// Text after `# ` in a comment line of any of our syntaxes.
pub fn comment(s: &str) -> String {
    printable(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quotes_everything_special() {
        assert_eq!(shell("eno2"), "eno2");
        assert_eq!(shell("a b"), "'a b'");
        assert_eq!(shell("$(reboot)"), "'$(reboot)'");
        assert_eq!(shell("a'b"), "'a'\\''b'");
        assert_eq!(shell(";rm -rf /"), "';rm -rf /'");
        assert_eq!(shell(""), "''");
        assert_eq!(shell("x\ny"), "'x\ny'");
        assert_eq!(shell("`id`"), "'`id`'");
    }

    #[test]
    fn yaml_quotes_ambiguous_scalars() {
        assert_eq!(yaml("eno2"), "eno2");
        assert_eq!(yaml("eno2.1000"), "eno2.1000");
        assert_eq!(yaml("yes"), "\"yes\"");
        assert_eq!(yaml("No"), "\"No\"");
        assert_eq!(yaml("1000"), "\"1000\"");
        assert_eq!(yaml("1e3"), "\"1e3\"");
        assert_eq!(yaml("a: b"), "\"a: b\"");
        assert_eq!(yaml("x\"\n#"), "\"x\\\"\\n#\"");
        assert_eq!(yaml("192.168.1.1/24"), "\"192.168.1.1/24\"");
        assert_eq!(yaml("2001:db8::1/64"), "\"2001:db8::1/64\"");
        assert_eq!(yaml("::/0"), "\"::/0\"");
        assert_eq!(yaml("1:20"), "\"1:20\"");
        assert_eq!(yaml("1.5"), "\"1.5\"");
        assert_eq!(yaml("0000:03:00.0"), "\"0000:03:00.0\"");
        assert_eq!(yaml("02:00:00:00:00:10"), "\"02:00:00:00:00:10\"");
        assert_eq!(yaml("on"), "\"on\"");
    }

    #[test]
    fn keyfile_escapes_line_breaks() {
        assert_eq!(keyfile("a\nb").unwrap(), "a\\nb");
        assert_eq!(keyfile(" x\\").unwrap(), "\\sx\\\\");
        assert!(keyfile("a\0b").is_err());
    }

    #[test]
    fn udev_and_networkd_refuse_what_they_cannot_carry() {
        assert!(udev("eno2").is_ok());
        assert!(udev("a\"b").is_err());
        assert!(udev("$kernel").is_err());
        assert!(udev("%k").is_err());
        assert!(udev("a\nb").is_err());
        assert!(networkd("a\nb").is_err());
        assert!(networkd(" a").is_err());
        assert!(networkd("eno2").is_ok());
        assert!(networkd("%n").is_err());
        assert!(networkd("$HOME").is_err());
    }

    #[test]
    fn printable_keeps_comments_on_one_line() {
        assert_eq!(printable("name"), "name");
        assert_eq!(printable("a\nb"), "\"a\\nb\"");
    }
}
