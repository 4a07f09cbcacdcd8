//! The API server as a node's network namespace sees it: 127.0.0.1:PORT inside the namespace relayed to
//! 127.0.0.1:PORT outside, where the API server listens (a namespace cannot reach the host's loopback).
//! A thread enters the namespace (setns), binds the listener there, and returns to the test process's
//! namespace: a socket stays in the namespace it was made in, so the connections it accepts are the
//! namespace's and the ones it opens to the API server are the host's. Each connection is copied both
//! ways by two threads until either side closes. Dropping the [`Relay`] closes the listener; the
//! connections under way end when the agent or the API server closes them.
//!
//! Each relay connects from an address of its own in 127.1.0.0/16 ([`Relay::source`]), as every node
//! reaches the API server from its own address: the audit log's `sourceIPs` tell the agents apart
//! (they share one ServiceAccount, and kube-rs sends no User-Agent).

use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

/// A listener in a network namespace, relaying to the host's 127.0.0.1.
pub struct Relay {
    /// The address its connections to the API server come from (the node's, as the server sees it).
    pub source: Ipv4Addr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

fn setns(f: &File) -> io::Result<()> {
    // SAFETY: setns(2) on an open namespace file; changes only the calling thread's namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Relay {
    /// Listens on 127.0.0.1:`port` in the network namespace `netns` (a name under /run/netns) and
    /// relays to 127.0.0.1:`port` of the test process's namespace, from the next free address of
    /// 127.1.0.0/16.
    pub fn start(netns: &str, port: u16) -> Relay {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 1 << 16, "more relays than 127.1.0.0/16 holds");
        let source = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 0)) + n);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let path = format!("/run/netns/{netns}");
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let bound = (|| {
                let home = File::open("/proc/thread-self/ns/net")?;
                let there = File::open(&path)?;
                setns(&there)?;
                let l = TcpListener::bind(("127.0.0.1", port));
                setns(&home)?;
                l
            })();
            let listener = match bound {
                Ok(l) => {
                    tx.send(Ok(())).unwrap();
                    l
                }
                Err(e) => {
                    tx.send(Err(e)).unwrap();
                    return;
                }
            };
            accept(listener, source, port, &flag);
        });
        rx.recv()
            .unwrap()
            .unwrap_or_else(|e| panic!("relay in {netns} on port {port}: {e}"));
        Relay {
            source,
            stop,
            thread: Some(thread),
        }
    }
}

/// Accepts until `stop` is set, waking up every 200 ms to look at it.
fn accept(listener: TcpListener, source: Ipv4Addr, port: u16, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let mut fds = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut fds, 1, 200) } <= 0 {
            continue;
        }
        let Ok((inside, _)) = listener.accept() else {
            continue;
        };
        match connect_from(source, port) {
            Ok(outside) => {
                pipe(inside.try_clone().unwrap(), outside.try_clone().unwrap());
                pipe(outside, inside);
            }
            // The API server is down: the client sees the connection closed, as it would.
            Err(_) => drop(inside),
        }
    }
}

/// A TCP connection to 127.0.0.1:`port` from `source` (bound before connecting, which std cannot).
fn connect_from(source: Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    let addr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a new socket, owned by the TcpStream at once (closed on every error path below).
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        TcpStream::from_raw_fd(fd)
    };
    let fd = stream.as_raw_fd();
    let (from, to) = (addr(source, 0), addr(Ipv4Addr::LOCALHOST, port));
    // SAFETY: valid sockaddr_in values of the given length, on an open socket.
    unsafe {
        if libc::bind(fd, (&from as *const libc::sockaddr_in).cast(), len) != 0
            || libc::connect(fd, (&to as *const libc::sockaddr_in).cast(), len) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(stream)
}

/// Copies `from` to `to` on a thread, then closes both directions.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
