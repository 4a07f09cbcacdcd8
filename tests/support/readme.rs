// The README's transcripts (```console blocks: `$ command` lines, continued by a trailing `\`, each
// followed by the output it prints), for the tests that run them and compare. Included by the render
// and the apply test binaries (`include!`), each running the commands it can: a README example that
// drifts from what the binaries print fails a test.

/// One `$ command` of the README and the output printed under it.
#[derive(Debug, Clone)]
pub struct Step {
    /// README line of the `$`.
    pub line: usize,
    pub command: String,
    pub expected: String,
}

/// The README's ```console blocks, in order, each a list of steps.
pub fn transcripts() -> Vec<Vec<Step>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut blocks = Vec::new();
    let mut block: Option<Vec<Step>> = None;
    let mut continued = false;
    for (i, l) in text.lines().enumerate() {
        match &mut block {
            None if l.trim_end() == "```console" => block = Some(Vec::new()),
            None => {}
            Some(_) if l.trim_end() == "```" => blocks.push(block.take().unwrap()),
            Some(steps) => {
                if continued {
                    let s = steps.last_mut().unwrap();
                    s.command.push(' ');
                    s.command.push_str(l.trim().trim_end_matches('\\').trim_end());
                    continued = l.ends_with('\\');
                } else if let Some(cmd) = l.strip_prefix("$ ") {
                    continued = cmd.ends_with('\\');
                    steps.push(Step {
                        line: i + 1,
                        command: cmd.trim_end_matches('\\').trim_end().to_string(),
                        expected: String::new(),
                    });
                } else {
                    let s = steps
                        .last_mut()
                        .unwrap_or_else(|| panic!("README.md:{}: output before any `$ ` line", i + 1));
                    s.expected.push_str(l);
                    s.expected.push('\n');
                }
            }
        }
    }
    assert!(block.is_none(), "README.md: a ```console block is not closed");
    blocks
}

/// `Err` with a line diff when `actual` is not what the README shows under `step`.
pub fn compare(step: &Step, actual: &str) -> Result<(), String> {
    let norm = |s: &str| -> Vec<String> { s.lines().map(|l| l.trim_end().to_string()).collect() };
    let (want, got) = (norm(&step.expected), norm(actual));
    if want == got {
        return Ok(());
    }
    let mut d = format!(
        "README.md:{}: `{}` prints something else (- README, + actual):\n",
        step.line, step.command
    );
    let (mut i, mut j) = (0, 0);
    while i < want.len() || j < got.len() {
        if i < want.len() && j < got.len() && want[i] == got[j] {
            d.push_str(&format!("  {}\n", want[i]));
            i += 1;
            j += 1;
        } else if i < want.len() && !got[j..].contains(&want[i]) {
            d.push_str(&format!("- {}\n", want[i]));
            i += 1;
        } else if j < got.len() {
            d.push_str(&format!("+ {}\n", got[j]));
            j += 1;
        } else {
            d.push_str(&format!("- {}\n", want[i]));
            i += 1;
        }
    }
    Err(d)
}

/// Runs `command` with `sh -c` in `dir`, the workspace's binaries first on PATH; stdout then stderr.
pub fn run_shell(command: &str, dir: &std::path::Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("plumber-render");
    let bin_dir = bin.parent().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
