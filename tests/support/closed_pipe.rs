// A program whose reader goes away (`... | head`), shared by the render and apply integration tests:
// both `include!` this file, so there is one copy.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// Runs `cmd` with its standard output a pipe, reads `first` bytes, closes the pipe, and asserts the
/// program ended as `cat` does: by SIGPIPE (or done already), with no panic on standard error.
pub fn ends_quietly_on_a_closed_pipe(mut cmd: Command, first: usize) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = vec![0u8; first];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{cmd:?}: {err}");
    assert!(
        out.status.signal() == Some(13) || out.status.success(),
        "{cmd:?}: {:?}: {err}",
        out.status
    );
}
