//! Worker addresses as users give them: `--workers A,B,...` and hosts files
//! (`--hosts FILE`, one `HOST:PORT` a line). Each address is checked for the
//! `HOST:PORT` shape before anything is dialed, with errors that name the
//! file and line; and the list is resolved once, so that one worker named
//! twice (`127.0.0.1:7000` and `localhost:7000`) is caught as such rather
//! than failing later as "busy".

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use crate::error::{Error, Result};

/// The workers named by `--workers` (already split at commas) or, when
/// given, by a hosts file. Spaces around an address are ignored, and so are
/// empty items (`a:1,,b:2`, a trailing comma).
pub fn worker_list(workers: &[String], hosts: Option<&Path>) -> Result<Vec<String>> {
    let list = match hosts {
        Some(file) => read_hosts(file)?,
        None => workers
            .iter()
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
            .map(|w| check(w).map_err(|why| Error::Usage(format!("--workers: {why}"))))
            .collect::<Result<Vec<_>>>()?,
    };
    if list.is_empty() {
        return Err(Error::Usage(
            "no workers given: name them with --workers HOST:PORT,HOST:PORT,... \
             or list them in a file, one HOST:PORT a line, and give --hosts FILE"
                .into(),
        ));
    }
    Ok(list)
}

/// Worker addresses from a hosts file: one per line; blank lines and `#`
/// comments ignored.
pub fn read_hosts(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read hosts file {}: {e}", path.display())))?;
    let mut hosts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !line.is_empty() {
            hosts.push(check(line).map_err(|why| Error::Usage(format!("{}:{}: {why}", path.display(), n + 1)))?);
        }
    }
    if hosts.is_empty() {
        return Err(Error::Usage(format!("hosts file {} lists no worker", path.display())));
    }
    Ok(hosts)
}

/// Checks that `text` has the shape `HOST:PORT` (an IPv6 host in brackets,
/// as in `[::1]:7000`); the reason otherwise, quoting it.
pub fn check(text: &str) -> Result<String, String> {
    let not = |why: &str| Err(format!("{text:?} is not HOST:PORT ({why})"));
    if text.chars().any(char::is_whitespace) {
        return not("it holds a space; separate addresses with commas, or put one a line in a hosts file");
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return not("no port; e.g. lab1:7000");
    };
    if host.is_empty() || host == "[]" {
        return not("no host; e.g. 127.0.0.1:7000");
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return not("an IPv6 host goes in brackets, e.g. [::1]:7000");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(text.to_string()),
        _ => not(&format!("the port {port:?} is not a number from 1 to 65535")),
    }
}

/// Resolves every worker to the socket address the master dials (the first
/// the name resolves to), and refuses a worker listed twice under any two
/// names. A name that does not resolve makes that worker unreachable.
pub fn resolve(workers: &[String]) -> Result<Vec<SocketAddr>> {
    let mut resolved: Vec<SocketAddr> = Vec::with_capacity(workers.len());
    for (rank, addr) in workers.iter().enumerate() {
        let unreachable = |reason: String| Error::Unreachable { rank, addr: addr.clone(), reason };
        let socket = addr
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?
            .next()
            .ok_or_else(|| unreachable("the address resolves to nothing".into()))?;
        if let Some(first) = resolved.iter().position(|&other| same_listener(other, socket)) {
            let how = if workers[first] == *addr { String::new() } else { format!(" (both reach {socket})") };
            return Err(Error::Usage(format!(
                "worker {addr} is listed twice: it is worker {first}, {}{how}",
                workers[first]
            )));
        }
        resolved.push(socket);
    }
    Ok(resolved)
}

/// Whether dialing `a` and `b` reaches one listener: equal addresses, where
/// an unspecified one (`0.0.0.0`, `::`) means this host's loopback, which is
/// what dialing it reaches.
fn same_listener(a: SocketAddr, b: SocketAddr) -> bool {
    let dialed = |s: SocketAddr| match s.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), s.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), s.port()),
        _ => s,
    };
    dialed(a) == dialed(b)
}

/// Joins a `--workers` list that the shell cut at spaces after commas:
/// `--workers a:1, b:2` arrives as `a:1,` and `b:2`, and becomes `a:1,b:2`.
/// A value ending in a comma takes the next argument unless that one is an
/// option.
pub fn join_spaced_lists(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let mut list_open = false;
    for arg in args {
        let text = arg.to_string_lossy().into_owned();
        if list_open
            && !text.starts_with('-')
            && let Some(last) = out.last_mut()
        {
            last.push(&arg);
            list_open = text.ends_with(',');
            continue;
        }
        list_open = match out.last().map(|o| o.to_string_lossy().into_owned()) {
            // The value after `--workers`, or `--workers=VALUE` itself.
            Some(previous) if previous == "--workers" => text.ends_with(','),
            _ => text.starts_with("--workers=") && text.ends_with(','),
        };
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_must_be_host_colon_port() {
        for good in ["lab1:7000", "127.0.0.1:1", "[::1]:7000", "a.b-c:65535"] {
            assert_eq!(check(good).as_deref(), Ok(good));
        }
        let why = |t: &str| check(t).unwrap_err();
        assert_eq!(
            why("lab2 7000"),
            "\"lab2 7000\" is not HOST:PORT (it holds a space; separate addresses with commas, or put one a line in a hosts file)"
        );
        assert!(why("lab2").contains("no port"));
        assert!(why(":7000").contains("no host"));
        assert!(why("::1:7000").contains("brackets"));
        assert!(why("lab:0").contains("from 1 to 65535"));
        assert!(why("lab:http").contains("from 1 to 65535"));
        assert!(why("lab:70000").contains("from 1 to 65535"));
    }

    #[test]
    fn lists_tolerate_spaces_and_empty_items() {
        let given: Vec<String> = ["a:1", " b:2", "", "c:3 "].map(String::from).to_vec();
        assert_eq!(worker_list(&given, None).unwrap(), ["a:1", "b:2", "c:3"]);
        let err = worker_list(&[], None).unwrap_err().to_string();
        assert!(err.contains("--hosts FILE"), "{err}");
    }

    #[test]
    fn hosts_file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.txt");
        std::fs::write(&path, "# lab\nlab1:7000\nlab2 7000\n").unwrap();
        let err = read_hosts(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:3: \"lab2 7000\" is not HOST:PORT", path.display())), "{err}");
    }

    #[test]
    fn one_worker_under_two_names_is_refused() {
        let list = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(resolve(&list(&["127.0.0.1:7000", "127.0.0.1:7001"])).unwrap().len(), 2);
        let err = resolve(&list(&["127.0.0.1:7000", "localhost:7000"])).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("localhost:7000 is listed twice: it is worker 0, 127.0.0.1:7000"), "{err}");
        assert!(resolve(&list(&["0.0.0.0:7000", "127.0.0.1:7000"])).is_err());
        assert!(
            resolve(&list(&["127.0.0.1:1", "127.0.0.1:1"]))
                .unwrap_err()
                .to_string()
                .ends_with("it is worker 0, 127.0.0.1:1")
        );
    }

    #[test]
    fn a_list_cut_at_spaces_is_joined() {
        let args = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let joined = join_spaced_lists(args(&["wf", "master", "--workers", "a:1,", "b:2,", "c:3", "in.txt"]));
        assert_eq!(joined, args(&["wf", "master", "--workers", "a:1,b:2,c:3", "in.txt"]));
        let joined = join_spaced_lists(args(&["wf", "master", "--workers=a:1,", "b:2", "in.txt"]));
        assert_eq!(joined, args(&["wf", "master", "--workers=a:1,b:2", "in.txt"]));
        // An option after the comma is not an address.
        let kept = args(&["wf", "master", "--workers", "a:1,", "--ship", "in.txt"]);
        assert_eq!(join_spaced_lists(kept.clone()), kept);
        let kept = args(&["wf", "master", "--workers", "a:1", "b:2"]);
        assert_eq!(join_spaced_lists(kept.clone()), kept);
    }
}
