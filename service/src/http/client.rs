//! Who the client is, for the public channel's rate limits. By default the socket's peer
//! address, and nothing a caller writes: `X-Forwarded-For` is read only when the peer is one
//! of the configured trusted proxies, and then only as far back as the proxies are trusted
//! (the rightmost address a trusted proxy did not add is the client). An untrusted peer
//! cannot pick the address it is counted under.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::problem::ApiError;
use super::AppState;

/// A block of addresses, such as `10.0.0.0/8` or `::1/128`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    address: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an address block such as 10.0.0.0/8, 192.168.1.7 or fd00::/8")]
pub struct InvalidIpNet(String);

impl FromStr for IpNet {
    type Err = InvalidIpNet;

    fn from_str(text: &str) -> Result<Self, InvalidIpNet> {
        let invalid = || InvalidIpNet(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let width = bit_width(address);
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse()
                .ok()
                .filter(|prefix| *prefix <= width)
                .ok_or_else(invalid)?,
            None => width,
        };
        Ok(IpNet { address, prefix })
    }
}

fn bit_width(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl IpNet {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        if address.is_ipv4() != self.address.is_ipv4() {
            return false;
        }
        let host_bits = u32::from(bit_width(address) - self.prefix);
        let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
        bits(address) & mask == bits(self.address) & mask
    }
}

/// The proxies whose `X-Forwarded-For` is believed; empty by default.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(blocks: Vec<IpNet>) -> Self {
        TrustedProxies(blocks.into())
    }

    fn trust(&self, address: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(address))
    }

    /// The client behind `peer`, per the rule in this module's documentation.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trust(client) {
            return client;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in forwarded.into_iter().rev() {
            let Some(address) = forwarded_address(hop) else {
                break;
            };
            client = address;
            if !self.trust(address) {
                break;
            }
        }
        client
    }
}

/// One hop of `X-Forwarded-For`: an address, perhaps with a port.
fn forwarded_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

/// The client's address, as [`TrustedProxies::client`] decides it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NoPeerAddress)?;
        Ok(ClientAddress(state.trusted_proxies.client(peer.ip(), &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let block: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(block.contains(ip("10.1.200.3")) && !block.contains(ip("10.2.0.1")));
        assert!("::1".parse::<IpNet>().unwrap().contains(ip("::1")));
        assert!("0.0.0.0/0".parse::<IpNet>().unwrap().contains(ip("8.8.8.8")));
        assert!("127.0.0.1/32"
            .parse::<IpNet>()
            .unwrap()
            .contains(ip("::ffff:127.0.0.1")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let forwarded = headers("1.2.3.4, 5.6.7.8, 10.0.0.9");
        assert_eq!(proxies.client(ip("10.0.0.1"), &forwarded), ip("5.6.7.8"));
        assert_eq!(proxies.client(ip("9.9.9.9"), &forwarded), ip("9.9.9.9"));
        assert_eq!(proxies.client(ip("10.0.0.1"), &headers("garbage")), ip("10.0.0.1"));
        assert_eq!(proxies.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &forwarded),
            ip("10.0.0.1")
        );
    }
}
