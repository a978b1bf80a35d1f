//! A reverse proxy in front of the app, as production has one: browsers reach a public host name
//! on the proxy's port, and the app sees every request arrive from the proxy's address.
//!
//! It behaves like Caddy's `reverse_proxy`: the `Host` header passes through unchanged, the
//! client's address is appended to `X-Forwarded-For` (so a client's own forged entries stay in
//! front of it), and `X-Forwarded-Proto` / `X-Forwarded-Host` are set. Bodies stream both ways
//! (nothing is buffered), so long-lived responses such as server-sent events pass as they come.

use std::net::SocketAddr;

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// Headers that describe one connection, not the message, and so are not forwarded (RFC 9110
/// §7.6.1); the framing is chosen afresh on each side.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Serves the proxy on `listener`, forwarding every request to the app at `upstream`.
pub fn start(listener: TcpListener, upstream: SocketAddr) {
    let router = Router::new().fallback(forward).with_state(upstream);
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
}

/// Forwards one request over a fresh connection to the app and streams the answer back.
async fn forward(
    State(upstream): State<SocketAddr>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded_headers(&mut parts.headers, peer);
    // Upstream, the request line carries only the path: the host is in the `Host` header.
    parts.uri = parts
        .uri
        .path_and_query()
        .map(|path| path.as_str())
        .unwrap_or("/")
        .parse()
        .expect("a path is a valid URI");
    let request = Request::from_parts(parts, body);

    let sent = async {
        let stream = TcpStream::connect(upstream).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(Into::into)
    };
    let result: Result<_, Box<dyn std::error::Error + Send + Sync>> = sent.await;
    match result {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => {
            (StatusCode::BAD_GATEWAY, format!("upstream failed: {error}")).into_response()
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Appends the peer to `X-Forwarded-For` and says which scheme and host the client asked for.
fn add_forwarded_headers(headers: &mut HeaderMap, peer: SocketAddr) {
    let peer_ip = peer.ip().to_string();
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .chain([peer_ip.as_str()])
        .collect::<Vec<_>>()
        .join(", ");
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_str(&forwarded_for).expect("addresses are ASCII"),
    );
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert("x-forwarded-host", host);
    }
}
