//! Name resolution for AWS calls: the system resolver, except that every
//! `localhost` name is the loopback address (RFC 6761 §6.3, as curl and
//! browsers do). S3 Control puts the account id in front of the endpoint
//! host (`123456789012.<host>`), so a custom endpoint such as
//! `http://localhost:4566` stays reachable.

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

#[derive(Clone, Debug, Default)]
pub struct Resolver;

impl ResolveDns for Resolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let host = name.trim_end_matches('.').to_ascii_lowercase();
        if host == "localhost" || host.ends_with(".localhost") {
            return DnsFuture::ready(Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]));
        }
        DnsFuture::new(async move {
            match tokio::task::spawn_blocking(move || (host.as_str(), 0).to_socket_addrs()).await {
                Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
                Ok(Err(e)) => Err(ResolveDnsError::new(e)),
                Err(e) => Err(ResolveDnsError::new(std::io::Error::other(e))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn localhost_names_are_loopback() {
        let ips = Resolver.resolve_dns("123456789012.localhost").await.unwrap();
        assert_eq!(ips[0], IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(Resolver.resolve_dns("localhost.").await.unwrap().contains(&IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(Resolver.resolve_dns("no-such-host.invalid").await.is_err());
    }
}
