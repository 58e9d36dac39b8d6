//! The one place a configured destination becomes its transport.

use super::config::{Dest, SyslogAddr};
use super::transport::Transport;
use super::{file, http, net, redis};

/// The transport for a configured destination (it connects lazily: an
/// unreachable destination is not an error here).
pub fn open(dest: &Dest) -> Result<Box<dyn Transport>, String> {
    Ok(match dest {
        Dest::Syslog { addr, .. } => match addr {
            SyslogAddr::Udp(a) => Box::new(net::Udp::new(a.clone())),
            SyslogAddr::Tcp(a) => Box::new(net::Tcp::new(a.clone())),
            SyslogAddr::Unix(p) => Box::new(net::Unix::new(p.clone())),
        },
        Dest::Hec { url, token, .. } => Box::new(http::Hec::new(url, token)),
        Dest::Elastic { url, auth, .. } => Box::new(http::Bulk::new(url, auth.clone())),
        Dest::Redis {
            addr,
            password,
            db,
            key,
            mode,
            maxlen,
            ..
        } => Box::new(redis::Redis::new(
            addr.clone(),
            password.clone(),
            *db,
            key.clone(),
            *mode,
            *maxlen,
        )),
        Dest::File { path, .. } => Box::new(file::Lines::new(path)),
    })
}
