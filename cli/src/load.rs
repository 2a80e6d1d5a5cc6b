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
    #[error("the service's address {0} is not an http://host:port URL")]
    Address(String),
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
    authorization: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
    connection: Connection<TokioIo<TcpStream>, Full<Bytes>>,
}

impl ServiceConnection {
    /// Connects to `base_url` (`http://host:port`, no path).
    pub async fn open(base_url: &str, token: &str) -> Result<ServiceConnection, LoadError> {
        let invalid = || LoadError::Address(base_url.to_owned());
        let uri: Uri = base_url.parse().map_err(|_| invalid())?;
        let authority = match (uri.scheme_str(), uri.authority()) {
            (Some("http"), Some(authority)) => authority.as_str().to_owned(),
            _ => return Err(invalid()),
        };
        let stream = TcpStream::connect(&authority).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        Ok(ServiceConnection {
            host: HeaderValue::from_str(&authority).map_err(|_| invalid())?,
            authorization: HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| invalid())?,
            sender,
            connection,
        })
    }

    /// Sends one request (`body`: JSON, or none) and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), LoadError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.authorization.clone());
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| LoadError::Address(path.to_owned()))?;
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
