//! A minimal HTTPS server on loopback serving one text body (an MTA-STS policy), counting the
//! requests it answered.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub struct PolicyServer {
    pub address: SocketAddr,
    body: Arc<Mutex<String>>,
    requests: Arc<AtomicUsize>,
}

impl PolicyServer {
    pub async fn start(acceptor: TlsAcceptor, body: &str) -> PolicyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind https");
        let address = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(body.to_string()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (served, count) = (body.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, served, count) = (acceptor.clone(), served.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let reply = if text.starts_with("GET /.well-known/mta-sts.txt ") {
                        count.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                    };
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        PolicyServer {
            address,
            body,
            requests,
        }
    }

    /// How many policy requests were answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
