//! Unit tests of what the fake adds for the host's component tests:
//! controller changes on watches, host-filled values, caller streams,
//! log limits and call records.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::*;
use crate::cluster::{
    Cluster, DeleteOptions, EventType, ExecSession, ExecSpec, HostSecretRequest, KubeError,
    LogStream, LogsRequest, OutputStream, Propagation, Watch, WatchRequest,
};

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}})
}

fn watch_pods(name: &str) -> WatchRequest {
    WatchRequest {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: "ns".into(),
        label_selector: String::new(),
        field_selector: format!("metadata.name={name}"),
    }
}

fn spec(stdin: bool, forward: bool) -> ExecSpec {
    ExecSpec {
        namespace: "ns".into(),
        pod: "p".into(),
        container: "c".into(),
        argv: vec!["cat".into()],
        stdin,
        forward_output: forward,
        forward_stdin: forward,
        frame_stdin: forward,
        tty: None,
        max_stdout_bytes: None,
        max_stderr_bytes: None,
    }
}

/// Output chunks, in order.
type Chunks = Vec<(OutputStream, Vec<u8>)>;

/// Caller streams that keep what they are sent and hand out `stdin` once.
#[derive(Clone, Default)]
struct Kept {
    output: Arc<Mutex<Chunks>>,
    stdin: Arc<Mutex<Option<Vec<u8>>>>,
}

impl CallerStreams for Kept {
    fn output(&mut self, stream: OutputStream, data: &[u8]) -> Result<(), KubeError> {
        self.output
            .lock()
            .expect("not poisoned")
            .push((stream, data.to_vec()));
        Ok(())
    }

    fn take_stdin(&mut self) -> Result<Option<Vec<u8>>, KubeError> {
        Ok(self.stdin.lock().expect("not poisoned").take())
    }
}

#[test]
fn the_fake_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<FakeCluster>();
    sent::<FakeWatch>();
    sent::<FakeExec>();
    sent::<FakeLogs>();
}

#[test]
fn a_scripted_change_is_delivered_once_and_the_store_follows_it() {
    let fake = FakeCluster::new();
    let stored = fake.apply(&pod("a")).expect("applied");
    let mut running = pod("a");
    running["status"] = json!({"phase": "Running"});
    fake.script_watch_event("Pod", EventType::Modified, running);
    fake.script_watch_event("Pod", EventType::Added, pod("b"));

    let mut watch = fake.open_watch(&watch_pods("a")).expect("opened");
    let listed = watch.next(10).expect("no error").expect("listed");
    assert_eq!(listed.event_type, EventType::Added);
    let changed = watch.next(10).expect("no error").expect("the change");
    assert_eq!(changed.event_type, EventType::Modified);
    assert_eq!(changed.object["metadata"]["uid"], stored["metadata"]["uid"]);
    assert_eq!(changed.object["status"]["phase"], "Running");
    assert_eq!(
        fake.object_at("v1", "Pod", Some("ns"), "a"),
        Some(changed.object)
    );
    assert_eq!(watch.next(10).expect("no error"), None, "b is not watched");
    assert_eq!(fake.clock_ms(), 10);

    let mut again = fake.open_watch(&watch_pods("a")).expect("opened");
    again.next(0).expect("no error").expect("listed");
    assert_eq!(again.next(0).expect("no error"), None, "delivered once");
    let mut b = fake.open_watch(&watch_pods("b")).expect("opened");
    let created = b.next(0).expect("no error").expect("b's creation");
    assert!(created.object["metadata"]["uid"].is_string(), "{created:?}");
    assert!(fake.object("Pod", Some("ns"), "b").is_some());

    fake.script_watch_event("Pod", EventType::Deleted, pod("b"));
    let gone = b.next(0).expect("no error").expect("b's deletion");
    assert_eq!(gone.event_type, EventType::Deleted);
    assert_eq!(fake.objects_of_kind("Pod").len(), 1);
}

#[test]
fn set_status_replaces_a_stored_status_and_names_a_missing_object() {
    let fake = FakeCluster::new();
    fake.put(pod("a"));
    assert!(fake.set_status("v1", "Pod", Some("ns"), "a", json!({"phase": "Failed"})));
    assert_eq!(
        fake.object("Pod", Some("ns"), "a").expect("stored")["status"]["phase"],
        "Failed"
    );
    assert!(!fake.set_status("v1", "Pod", Some("ns"), "b", json!({})));
    assert!(fake.call_records().is_empty(), "not calls of the module");
}

fn secret_request(host_keys: &[&str]) -> HostSecretRequest {
    HostSecretRequest {
        manifest: json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"}}),
        random_keys: vec!["TOKEN".into()],
        host_keys: host_keys.iter().map(|k| k.to_string()).collect(),
        literal: vec![crate::lease::EnvVar {
            name: "MODE".into(),
            value: "plain".into(),
        }],
    }
}

#[test]
fn host_filled_values_are_kept_out_of_the_object_and_go_with_it() {
    let fake = FakeCluster::new();
    fake.set_host_values(BTreeMap::from([("KEY".to_string(), "sk-1".to_string())]));
    let (stored, filled) = fake
        .apply_host_secret(&secret_request(&["KEY", "OTHER"]))
        .expect("applied");
    assert!(stored.get("data").is_none());
    assert_eq!(filled, ["TOKEN", "KEY", "MODE"]);
    let values = fake.secret_values("ns", "s");
    assert_eq!(values["KEY"], "sk-1");
    assert_eq!(values["MODE"], "plain");
    assert!(values["TOKEN"].len() == 64 && values["TOKEN"].chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!values.contains_key("OTHER"), "the host has no OTHER");

    let target = ObjectRef::of(&stored).expect("a reference");
    let options = DeleteOptions {
        propagation: Propagation::Background,
        precondition_uid: None,
        grace_period_seconds: None,
    };
    assert!(fake.delete(&target, &options).expect("deleted"));
    assert!(fake.secret_values("ns", "s").is_empty());
}

#[test]
fn by_default_every_host_key_but_the_lacking_ones_is_filled() {
    let fake = FakeCluster::new();
    fake.host_lacks("OTHER");
    let (_, filled) = fake
        .apply_host_secret(&secret_request(&["KEY", "OTHER"]))
        .expect("applied");
    assert_eq!(filled, ["TOKEN", "KEY", "MODE"]);
}

#[test]
fn a_forwarding_session_sends_its_output_at_the_end_and_frames_the_callers_stdin() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript {
        output: vec![(OutputStream::Stdout, b"out".to_vec())],
        runs_ms: Some(50),
        ..ExecScript::exits(3)
    });
    let caller = Kept::default();
    *caller.stdin.lock().expect("not poisoned") = Some(b"hello".to_vec());
    let mut session = fake
        .open_exec(&spec(true, true), Some(Box::new(caller.clone())))
        .expect("started");

    session.write_stdin(b"head\n").expect("written");
    session.close_stdin().expect("closed");
    assert_eq!(session.read(10).expect("no error"), None, "forwarded");
    assert!(caller.output.lock().expect("not poisoned").is_empty());
    let status = session.wait(100).expect("no error").expect("ended");
    assert_eq!(status.exit_code, Some(3));

    let sent = vec![(OutputStream::Stdout, b"out".to_vec())];
    assert_eq!(*caller.output.lock().expect("not poisoned"), sent);
    assert_eq!(fake.forwarded(), sent);
    assert_eq!(fake.execs()[0].stdin, b"head\n5\nhello0\n");
    assert!(session.write_stdin(b"late").is_err(), "stdin is closed");
}

#[test]
fn a_session_without_stdin_refuses_writes_and_a_hanging_one_ends_when_killed() {
    let fake = FakeCluster::new();
    fake.script_exec(ExecScript::hangs());
    let mut session = fake.open_exec(&spec(false, false), None).expect("started");
    assert!(session.write_stdin(b"x").is_err());
    assert_eq!(session.wait(1_000).expect("no error"), None);
    session.kill().expect("killed");
    let status = session.wait(0).expect("no error").expect("ended");
    assert_eq!(status.signal, Some(9));
    assert!(fake.execs()[0].killed);
}

#[test]
fn a_log_is_cut_at_max_bytes_and_a_forwarded_one_goes_to_the_caller() {
    let fake = FakeCluster::new();
    let script = LogScript {
        chunks: vec![b"abc".to_vec(), b"def".to_vec()],
        ends: true,
    };
    fake.script_logs(script.clone());
    fake.script_logs(script);
    let mut request = LogsRequest {
        namespace: "ns".into(),
        pod: "p".into(),
        container: "c".into(),
        follow: true,
        forward_output: false,
        max_bytes: Some(4),
    };
    let mut read = fake.open_logs(&request, None).expect("opened");
    assert_eq!(read.read(0).expect("no error"), Some(b"abc".to_vec()));
    assert_eq!(read.read(0).expect("no error"), Some(b"d".to_vec()));
    assert_eq!(read.read(0).expect("no error"), None);

    request.forward_output = true;
    request.max_bytes = None;
    let caller = Kept::default();
    let mut forwarded = fake
        .open_logs(&request, Some(Box::new(caller.clone())))
        .expect("opened");
    assert_eq!(forwarded.read(0).expect("no error"), None);
    assert!(forwarded.wait_end(0).expect("no error"));
    let kept = caller.output.lock().expect("not poisoned").clone();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept, fake.forwarded());
}

#[test]
fn calls_are_recorded_with_their_arguments_and_as_lines() {
    let fake = FakeCluster::new();
    fake.apply(&pod("a")).expect("applied");
    fake.apply_host_secret(&secret_request(&[]))
        .expect("applied");
    fake.open_watch(&watch_pods("a")).expect("opened");
    fake.list("v1", "Pod", None, "a=b").expect("listed");

    assert_eq!(
        fake.calls(),
        [
            "apply Pod/ns/a",
            "apply Secret/ns/s",
            "watch Pod/ns?metadata.name=a",
            "list Pod/*?a=b",
        ]
    );
    let records = fake.call_records();
    assert!(matches!(&records[0], Call::Apply(t) if t.kind == "Pod" && t.name == "a"));
    assert!(matches!(&records[1], Call::ApplyHostSecret(r) if r.random_keys == ["TOKEN"]));
    assert_eq!(records[2], Call::Watch(watch_pods("a")));
    assert_eq!(fake.written_kinds(), ["Pod", "Secret"]);
    assert_eq!(fake.watches(), [watch_pods("a")]);
}
