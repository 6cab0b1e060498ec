//! An exec session over a websocket, the transport of a session whose
//! stdin is closed: kube-rs opens the connection (`v5.channel.k8s.io`,
//! falling back to `v4.channel.k8s.io`, see [`super::exec_protocol`]) and
//! this loop reads it. (A session with stdin runs over SPDY: websocket
//! protocol v4, all a 1.20 cluster speaks, cannot end stdin without losing
//! the exit status; see `super::exec_spdy`.)

use futures::{SinkExt, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use tokio_tungstenite::tungstenite::Message;

use super::exec_loop::{CLOSE_TIMEOUT, Delivery, Outcome, PING_INTERVAL};
use super::exec_protocol::{Frame, decode};

/// Runs one session: output to the deliveries, a ping every
/// [`PING_INTERVAL`]; ends at the status or when the connection ends.
pub(crate) async fn run<S>(ws: S, mut out: Delivery, mut err: Delivery) -> Outcome
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + Unpin,
{
    let (mut to_server, mut from_server) = ws.split();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    let mut outcome = Outcome::default();
    loop {
        tokio::select! {
            message = from_server.next() => match message {
                Some(Ok(Message::Binary(frame))) => match decode(&frame) {
                    Frame::Stdout(data) => out.deliver(data),
                    Frame::Stderr(data) => err.deliver(data),
                    Frame::Status(json) => {
                        match serde_json::from_slice::<Status>(json) {
                            Ok(status) => outcome.status = Some(status),
                            Err(e) => outcome.failure = Some(format!("unreadable exit status: {e}")),
                        }
                        break;
                    }
                    Frame::Ignored => {}
                },
                Some(Ok(Message::Close(_))) | None => {
                    outcome.failure = Some("the connection closed before the exit status arrived".into());
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    outcome.failure = Some(format!("the connection failed: {e}"));
                    break;
                }
            },
            _ = ping.tick() => {
                // A ping is a few bytes on a connection nothing else is
                // sent on: it never waits behind other sends.
                if let Err(e) = to_server.send(Message::Ping(Default::default())).await {
                    outcome.failure = Some(format!("the connection failed: {e}"));
                    break;
                }
            },
        }
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, to_server.close()).await;
    outcome.stdout_truncated = out.truncated();
    outcome.stderr_truncated = err.truncated();
    outcome
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::super::exec_loop::{Cap, Sink};
    use super::super::exec_protocol::{STATUS, STDERR, STDOUT};
    use super::*;
    use crate::contract::OutputStream;

    fn channel(number: u8, data: &[u8]) -> Message {
        let mut frame = vec![number];
        frame.extend_from_slice(data);
        Message::binary(frame)
    }

    /// Output on both channels reaches its delivery, capped; the status
    /// ends the session.
    #[tokio::test]
    async fn output_is_delivered_until_the_status() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let (err_tx, mut err_rx) = mpsc::unbounded_channel();
        let session = tokio::spawn(run(
            client,
            Delivery::new(OutputStream::Stdout, Cap::new(Some(4)), Sink::Queue(out_tx)),
            Delivery::new(OutputStream::Stderr, Cap::new(None), Sink::Queue(err_tx)),
        ));
        for message in [
            channel(STDOUT, b""),
            channel(STDOUT, b"out put"),
            channel(STDERR, b"err"),
            channel(STATUS, br#"{"metadata":{},"status":"Success"}"#),
        ] {
            server.send(message).await.expect("the client reads");
        }
        let outcome = session.await.expect("the session ran");
        assert_eq!(
            outcome.status.and_then(|s| s.status).as_deref(),
            Some("Success")
        );
        assert!(outcome.stdout_truncated && !outcome.stderr_truncated);
        assert_eq!(
            out_rx.try_recv().ok().map(|(_, d)| d),
            Some(b"out ".to_vec())
        );
        assert_eq!(
            err_rx.try_recv().ok().map(|(_, d)| d),
            Some(b"err".to_vec())
        );
    }

    #[tokio::test]
    async fn a_close_before_the_status_is_a_failure() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
        let (tx, _rx) = mpsc::unbounded_channel();
        let delivery = |kind| Delivery::new(kind, Cap::new(None), Sink::Queue(tx.clone()));
        let session = tokio::spawn(run(
            client,
            delivery(OutputStream::Stdout),
            delivery(OutputStream::Stderr),
        ));
        server
            .send(channel(STDOUT, b"partial"))
            .await
            .expect("sent");
        server.close(None).await.expect("closed");
        let outcome = session.await.expect("the session ran");
        assert_eq!(
            outcome.failure.as_deref(),
            Some("the connection closed before the exit status arrived")
        );
    }
}
