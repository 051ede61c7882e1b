//! This host as a Kubernetes node: its name and the address the kubelet would report as its
//! InternalIP (hostIP). Asked of the host's network namespace, so call before joining a pod's.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// The node name: the host's name, as the kubelet's default (`--hostname-override` unset).
pub fn name() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

/// The host's IPv4 address: the source address of its default route (found by connecting a
/// UDP socket, which sends nothing), else the first address of an interface that is up and
/// not loopback, else 127.0.0.1. The kubelet picks its InternalIP the same way.
pub fn ip() -> IpAddr {
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified() && !ip.is_loopback());
    routed.or_else(first_interface_address).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn first_interface_address() -> Option<IpAddr> {
    use nix::net::if_::InterfaceFlags as F;
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        let up = a.flags.contains(F::IFF_UP) && !a.flags.contains(F::IFF_LOOPBACK);
        let v4 = a.address.as_ref()?.as_sockaddr_in()?.ip();
        up.then_some(IpAddr::V4(v4))
    })
}

#[cfg(test)]
mod tests {
    /// The name is the kernel's hostname; with a default route the address is not loopback.
    #[test]
    fn node_identity_is_the_hosts() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::name(), host.trim());
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        // Destination 00000000: a default route.
        if routes.lines().skip(1).any(|l| l.split_whitespace().nth(1) == Some("00000000")) {
            let ip = super::ip();
            assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        }
    }
}
