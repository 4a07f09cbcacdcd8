//! Paths under a directory resolved as if it were `/`: what plumber-render's `--out`, `--check`,
//! `--diff`, `--examples --out` and fleet mode read, write and remove, and where [`crate::owned`] looks
//! for plumber's files.
//!
//! An image root holds symlinks meant for the image (`/var/run -> /run`, `/sbin -> usr/sbin`,
//! `/etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf`), not for the build host: followed by
//! the host's kernel, `DIR/etc/netplan -> /etc/netplan` would put the file in the host's `/etc`.
//! [`Root`] resolves each path itself, as a chroot at the directory would:
//!
//! * every system call names one component (no `/`, never `.` or `..`) relative to a directory
//!   descriptor already inside the root, with `O_NOFOLLOW` or `AT_SYMLINK_NOFOLLOW`: the kernel follows
//!   neither a symlink nor `..` for plumber-render;
//! * a symlink among the directories is read (`readlinkat`) and its target resolved here: an absolute
//!   target from the root, a relative one from the link's directory, `..` going back up the directories
//!   walked so far and never above the root (`/..` is `/`); more than [`MAX_SYMLINKS`] links is an
//!   error naming the last one and its target;
//! * the last component is never followed: a file or symlink is created there only if nothing is, and
//!   otherwise made under a temp name in the same directory and renamed over it, so a symlink there is
//!   replaced, not written through; a read reports a symlink as a symlink, with its target; a removal
//!   (`unlinkat`) removes the symlink itself.
//!
//! So every descriptor is the root's or was opened by name from one of them: nothing outside the root is
//! opened, read or written. This is what `openat2(RESOLVE_IN_ROOT)` does in the kernel, done here because
//! `--check /` also runs on nodes whose kernel predates it (RHEL 8's 4.18). Not defended against: a
//! directory moved out of the root by another process while plumber-render walks it. The root itself
//! is the caller's choice and is opened as given (a symlink to it is followed), as `plumber apply
//! --root` does.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::Error;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Symlinks followed while resolving one path before giving up, as many as Linux follows (`ELOOP`).
pub const MAX_SYMLINKS: usize = 40;

/// Directories: opened only to be walked from (`O_PATH`), never followed if a symlink.
const DIR_FLAGS: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A directory of the host standing for `/`.
pub struct Root {
    fd: OwnedFd,
    /// Where it is on the host, for messages.
    host: PathBuf,
}

/// A directory resolved inside a [`Root`].
pub struct Dir {
    fd: OwnedFd,
    /// Where it is on the host (the root's host path and its resolved path inside the root).
    host: PathBuf,
}

/// What a path inside a root is, its last component not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Absent,
    File { content: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

fn io_err(path: &Path, e: Errno) -> Error {
    Error::io(path.display(), e.into())
}

/// The components of a symlink target or of a path relative to a root: names and `..` (`.` and empty
/// components dropped, a leading `/` handled by the caller).
fn components(p: &Path) -> impl DoubleEndedIterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

impl Root {
    /// The existing directory `host` as a root (`--check`, `--diff`).
    pub fn open(host: &Path) -> Result<Root, Error> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(host, flags, Mode::empty()).map_err(|e| io_err(host, e))?;
        Ok(Root {
            fd,
            host: host.to_path_buf(),
        })
    }

    /// The directory `host` as a root, created first with its missing parents (`--out`).
    pub fn create(host: &Path) -> Result<Root, Error> {
        std::fs::create_dir_all(host).map_err(|e| Error::io(host.display(), e))?;
        Root::open(host)
    }

    /// The directory `rel` inside this root (created if missing, resolved as [`Root::dir`] does) as a
    /// root of its own: fleet mode's `OUT/<node>`, `--examples`' `OUT/<distro>/<example>`.
    pub fn subroot(&self, rel: &Path) -> Result<Root, Error> {
        let d = self.dir(rel, true)?.expect("created when missing");
        Ok(Root {
            fd: d.fd,
            host: d.host,
        })
    }

    /// The existing directory `rel` inside this root as a root of its own, `None` when it is missing:
    /// fleet mode's directories of nodes no longer listed.
    pub fn existing_subroot(&self, rel: &Path) -> Result<Option<Root>, Error> {
        Ok(self.dir(rel, false)?.map(|d| Root {
            fd: d.fd,
            host: d.host,
        }))
    }

    /// Where the root is on the host, for messages.
    pub fn host(&self) -> &Path {
        &self.host
    }

    /// The directory `rel` (relative to the root) resolved inside the root, see the module doc. Missing
    /// directories are created (mode 0755 less the umask) when `create`, and make it `None` otherwise.
    pub fn dir(&self, rel: &Path, create: bool) -> Result<Option<Dir>, Error> {
        let mut todo: VecDeque<OsString> = components(rel).collect();
        // The directories walked into below the root, by name: their names are the resolved path.
        let mut walked: Vec<(OsString, OwnedFd)> = Vec::new();
        let mut links = 0;
        let host = |walked: &[(OsString, OwnedFd)], name: Option<&OsStr>| -> PathBuf {
            let mut p = self.host.clone();
            p.extend(walked.iter().map(|(n, _)| n));
            p.extend(name);
            p
        };
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                walked.pop();
                continue;
            }
            let cur: BorrowedFd = walked.last().map_or(self.fd.as_fd(), |(_, fd)| fd.as_fd());
            match rustix::fs::openat(cur, &name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => walked.push((name, fd)),
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(cur, &name, Mode::from_raw_mode(0o755)) {
                        // Made (or made meanwhile, or a dangling symlink): open it on the next turn.
                        Ok(()) | Err(Errno::EXIST) => todo.push_front(name),
                        Err(e) => return Err(io_err(&host(&walked, Some(&name)), e)),
                    }
                }
                Err(Errno::NOENT) => return Ok(None),
                // O_NOFOLLOW|O_DIRECTORY on a symlink or on another non-directory.
                Err(Errno::NOTDIR | Errno::LOOP) => {
                    let link = host(&walked, Some(&name));
                    let target = match rustix::fs::readlinkat(cur, &name, Vec::new()) {
                        Ok(t) => PathBuf::from(OsString::from_vec(t.into_bytes())),
                        Err(Errno::INVAL) => return Err(io_err(&link, Errno::NOTDIR)),
                        Err(e) => return Err(io_err(&link, e)),
                    };
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Error::io(
                            format!("{}: symlink -> {}", link.display(), target.display()),
                            std::io::Error::other(format!(
                                "more than {MAX_SYMLINKS} symlinks followed inside {} (a loop?)",
                                self.host.display()
                            )),
                        ));
                    }
                    if target.has_root() {
                        walked.clear();
                    }
                    for c in components(&target).rev() {
                        todo.push_front(c);
                    }
                }
                Err(e) => return Err(io_err(&host(&walked, Some(&name)), e)),
            }
        }
        let host = host(&walked, None);
        let fd = match walked.pop() {
            Some((_, fd)) => fd,
            None => self
                .fd
                .try_clone()
                .map_err(|e| Error::io(host.display(), e))?,
        };
        Ok(Some(Dir { fd, host }))
    }
}

impl Dir {
    /// Where `name` in this directory is on the host.
    pub fn host_path(&self, name: &OsStr) -> PathBuf {
        self.host.join(name)
    }

    /// The entries of this directory (without `.` and `..`), sorted by name, with their types (a
    /// symlink is a symlink, not what it points to).
    pub fn entries(&self) -> Result<Vec<(OsString, FileType)>, Error> {
        let err = |e: Errno| io_err(&self.host, e);
        let mut out = Vec::new();
        // `.` of the (O_PATH) descriptor opened for reading: the same directory, nothing followed.
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, ".", flags, Mode::empty()).map_err(err)?;
        let mut dir = rustix::fs::Dir::new(fd).map_err(err)?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(err)?;
            let name = OsString::from_vec(entry.file_name().to_bytes().to_vec());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => match self.file_type(&name)? {
                    Some(k) => k,
                    None => continue,
                },
                k => k,
            };
            out.push((name, kind));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The type of `name` in this directory, a symlink not followed; `None` when nothing is there.
    pub fn file_type(&self, name: &OsStr) -> Result<Option<FileType>, Error> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(io_err(&self.host_path(name), e)),
        }
    }

    /// Removes the file or symlink `name` from this directory (a symlink itself, never what it points
    /// to); `false` when nothing was there.
    pub fn remove(&self, name: &OsStr) -> Result<bool, Error> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(io_err(&self.host_path(name), e)),
        }
    }

    /// What `name` is in this directory, a symlink not followed; a directory, a device... are errors.
    pub fn read(&self, name: &OsStr) -> Result<Entry, Error> {
        let path = self.host_path(name);
        let err = |e: Errno| io_err(&path, e);
        let st = match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => return Ok(Entry::Absent),
            Err(e) => return Err(err(e)),
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let t = rustix::fs::readlinkat(&self.fd, name, Vec::new()).map_err(err)?;
                Ok(Entry::Symlink {
                    target: String::from_utf8_lossy(t.as_bytes()).into_owned(),
                })
            }
            FileType::RegularFile => {
                // NONBLOCK: should it have become a FIFO since the stat, the read fails, not hangs.
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
                let mut f = File::from(
                    rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(err)?,
                );
                let io = |e| Error::io(path.display(), e);
                let meta = f.metadata().map_err(io)?;
                if !meta.is_file() {
                    return Err(err(Errno::INVAL));
                }
                let mut content = Vec::new();
                f.read_to_end(&mut content).map_err(io)?;
                Ok(Entry::File {
                    content,
                    mode: meta.permissions().mode() & 0o7777,
                })
            }
            _ => Err(Error::io(
                path.display(),
                std::io::Error::other("not a regular file or a symlink"),
            )),
        }
    }

    /// `name` made a file holding `content` at `mode` (not less the umask): created if absent, otherwise
    /// written under a temp name and renamed over whatever is there (a symlink is replaced).
    pub fn write_file(&self, name: &OsStr, content: &[u8], mode: u32) -> Result<(), Error> {
        self.create_or_replace(name, |at| {
            let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(&self.fd, at, flags, Mode::from_raw_mode(0o600))?;
            let mut f = File::from(fd);
            f.write_all(content)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
        })
    }

    /// `name` made a symlink to `target`, as [`Dir::write_file`] makes a file.
    pub fn write_symlink(&self, name: &OsStr, target: &str) -> Result<(), Error> {
        self.create_or_replace(name, |at| Ok(rustix::fs::symlinkat(target, &self.fd, at)?))
    }

    /// `make(name)`, which creates `name` and fails with `EEXIST` when something is there (`O_EXCL` and
    /// `symlinkat` never follow a symlink); then `make` of a temp name renamed over `name`.
    fn create_or_replace(
        &self,
        name: &OsStr,
        make: impl Fn(&OsStr) -> std::io::Result<()>,
    ) -> Result<(), Error> {
        let path = self.host_path(name);
        match make(name) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(path.display(), e)),
        }
        let mut tmp = OsString::from(".plumber-render-tmp-");
        tmp.push(name);
        tmp.push(format!("-{}", std::process::id()));
        let tmp = tmp.as_os_str();
        let unlink = || rustix::fs::unlinkat(&self.fd, tmp, AtFlags::empty());
        // A leftover of an earlier run of this pid.
        match unlink() {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(io_err(&self.host_path(tmp), e)),
        }
        let made = make(tmp).map_err(|e| Error::io(self.host_path(tmp).display(), e));
        let done = made.and_then(|()| {
            rustix::fs::renameat(&self.fd, tmp, &self.fd, name).map_err(|e| io_err(&path, e))
        });
        if done.is_err() {
            let _ = unlink();
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch() -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let r = Root::create(&t.path().join("root")).unwrap();
        (t, r)
    }

    #[test]
    fn dotdot_in_a_link_stops_at_the_root() {
        let (t, r) = scratch();
        let root = t.path().join("root");
        symlink("../../../..", root.join("up")).unwrap();
        let d = r.dir(Path::new("up/x"), true).unwrap().unwrap();
        assert_eq!(d.host, root.join("x"));
        assert!(root.join("x").is_dir());
    }

    #[test]
    fn a_missing_directory_is_none_unless_created() {
        let (_t, r) = scratch();
        assert!(r.dir(Path::new("a/b"), false).unwrap().is_none());
        assert!(r.dir(Path::new("a/b"), true).unwrap().is_some());
        assert!(r.dir(Path::new("a/b"), false).unwrap().is_some());
    }

    #[test]
    fn a_dangling_link_is_created_inside_the_root() {
        let (t, r) = scratch();
        let root = t.path().join("root");
        symlink("/usr/lib/nowhere", root.join("etc")).unwrap();
        let d = r.dir(Path::new("etc/netplan"), true).unwrap().unwrap();
        assert_eq!(d.host, root.join("usr/lib/nowhere/netplan"));
        assert!(d.host.is_dir());
    }

    #[test]
    fn a_file_among_the_directories_is_an_error_naming_it() {
        let (t, r) = scratch();
        let root = t.path().join("root");
        std::fs::write(root.join("etc"), "").unwrap();
        let e = r.dir(Path::new("etc/netplan"), true).err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: Not a directory (os error 20)",
                root.join("etc").display()
            )
        );
    }

    #[test]
    fn files_and_symlinks_are_written_and_read_back() {
        let (_t, r) = scratch();
        let d = r.dir(Path::new("etc"), true).unwrap().unwrap();
        let n = OsStr::new("f");
        assert_eq!(d.read(n).unwrap(), Entry::Absent);
        d.write_file(n, b"one", 0o640).unwrap();
        d.write_file(n, b"two", 0o600).unwrap();
        let two = Entry::File {
            content: b"two".to_vec(),
            mode: 0o600,
        };
        assert_eq!(d.read(n).unwrap(), two);
        d.write_symlink(n, "/x").unwrap();
        d.write_symlink(n, "/y").unwrap();
        let y = Entry::Symlink {
            target: "/y".into(),
        };
        assert_eq!(d.read(n).unwrap(), y);
        assert!(
            d.read(OsStr::new(".")).is_err(),
            "a directory is not a file"
        );
    }
}
