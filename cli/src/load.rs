//! The benchmark's HTTP client: one HTTP/1.1 connection per worker (hyper's connection API),
//! driven by the worker's own task.
//!
//! A load generator should cost the machine as little as it can, since the client, the service
//! and PostgreSQL share it, as pgbench does for the limit. A pooled client (reqwest) parses the
//! URL again for every request, passes it through redirect and retry layers, and hands it to a
//! connection task of its own, so every exchange wakes a second task: about 45 µs of CPU a
//! command. Here the worker writes the request and polls the connection itself.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the service's address {0} is not an http://host[:port][/prefix] URL")]
    Address(String),
    #[error("cannot make the request: {0}")]
    Request(String),
    #[error("cannot reach the service: {0}")]
    Connect(#[from] std::io::Error),
    #[error("the connection to the service failed: {0}")]
    Exchange(#[from] hyper::Error),
    #[error("the service closed the connection")]
    Closed,
}

/// One worker's connection to a running service, with its bearer token.
#[derive(Debug)]
pub struct ServiceConnection {
    host: HeaderValue,
    /// The base URL's path, without its last `/`: a service behind a proxy under a prefix.
    prefix: String,
    authorization: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
    connection: Connection<TokioIo<TcpStream>, Full<Bytes>>,
}

impl ServiceConnection {
    /// Connects to `base_url` (`http://host[:port][/prefix]`).
    pub async fn open(base_url: &str, token: &str) -> Result<ServiceConnection, LoadError> {
        let address = Address::of(base_url)?;
        let stream = TcpStream::connect((address.host.as_str(), address.port)).await?;
        stream.set_nodelay(true)?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| LoadError::Request("the token is not a header value".to_owned()))?;
        // Kept out of `Debug` output.
        authorization.set_sensitive(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        Ok(ServiceConnection {
            host: address.host_header,
            prefix: address.prefix,
            authorization,
            sender,
            connection,
        })
    }

    /// Sends one request (`path` from the service's root; `body`: JSON, or none) and reads the
    /// whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), LoadError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| LoadError::Request(format!("{path} is not a request target")))?;
        let Self { sender, connection, .. } = self;
        let exchange = async {
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok((status, body))
        };
        // The connection does the reading and writing; it only ends when the service closes it.
        tokio::select! {
            answer = exchange => answer,
            ended = connection => Err(ended.err().map_or(LoadError::Closed, LoadError::Exchange)),
        }
    }
}

/// Where a base URL points.
#[derive(Debug, PartialEq)]
struct Address {
    host: String,
    port: u16,
    /// The `Host` header: the URL's authority as given.
    host_header: HeaderValue,
    prefix: String,
}

impl Address {
    fn of(base_url: &str) -> Result<Address, LoadError> {
        let invalid = || LoadError::Address(base_url.to_owned());
        let uri: Uri = base_url.parse().map_err(|_| invalid())?;
        let (Some("http"), Some(authority), None) = (uri.scheme_str(), uri.authority(), uri.query()) else {
            return Err(invalid());
        };
        Ok(Address {
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(80),
            host_header: HeaderValue::from_str(authority.as_str()).map_err(|_| invalid())?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str, port: u16, host_header: &'static str, prefix: &str) -> Address {
        Address {
            host: host.to_owned(),
            port,
            host_header: HeaderValue::from_static(host_header),
            prefix: prefix.to_owned(),
        }
    }

    #[test]
    fn a_base_url_gives_host_port_and_the_prefix_of_every_path() {
        let cases = [
            (
                "http://127.0.0.1:8080",
                address("127.0.0.1", 8080, "127.0.0.1:8080", ""),
            ),
            (
                "http://127.0.0.1:8080/",
                address("127.0.0.1", 8080, "127.0.0.1:8080", ""),
            ),
            (
                "http://example.org/lianxin/",
                address("example.org", 80, "example.org", "/lianxin"),
            ),
            ("http://[::1]:18080/a/b", address("::1", 18080, "[::1]:18080", "/a/b")),
        ];
        for (base_url, expected) in cases {
            assert_eq!(Address::of(base_url).unwrap(), expected, "{base_url}");
        }
    }

    #[test]
    fn a_base_url_that_is_not_plain_http_is_refused() {
        for base_url in [
            "https://example.org",
            "localhost:8080",
            "/api",
            "http://example.org/?a=1",
            "http://exa mple.org",
        ] {
            assert!(
                matches!(Address::of(base_url), Err(LoadError::Address(given)) if given == base_url),
                "{base_url}"
            );
        }
    }
}
