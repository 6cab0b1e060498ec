use super::*;
use rstest::rstest;

fn parse(text: &str) -> Result<HostSettings, SettingsError> {
    HostSettings::parse(text, &Overrides::default(), None)
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    let settings = parse("").expect("defaults");
    assert_eq!(settings.namespace_prefix, "leasebox-");
    assert_eq!(settings.host_keys, BUILTIN_ADAPTER_KEYS);
    assert_eq!(settings.guest.memory_cap_bytes, 64 << 20);
    assert_eq!(settings.guest.cpu_deadline, Duration::from_secs(5));
    assert_eq!(settings.guest.call_timeout, Duration::from_secs(900));
    assert_eq!(settings.guest.exec_timeout, Duration::from_secs(86_400));
    assert_eq!(
        settings.guest.parallel_calls,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        "one call per core"
    );
    assert_eq!(settings.serve.sweep_interval, Some(Duration::from_secs(60)));
    assert_eq!(settings.serve.watch_linger, Duration::from_secs(30));
    assert_eq!(settings.serve.leader.namespace, "leasebox-system");
    assert_eq!(settings.serve.leader.lease_name, "leasebox-sweep");
    assert_eq!(
        settings.serve.leader.lease_duration,
        Duration::from_secs(15)
    );
    assert_eq!(settings, HostSettings::default());
}

#[test]
fn every_field_is_read() {
    let settings = parse(
        "fence:\n  namespacePrefix: agents-\nsecrets:\n  hostKeys: [MY_KEY]\nguest:\n  \
         memoryMiB: 32\n  cpuDeadlineMs: 250\n  callTimeoutSec: 20\n  execTimeoutSec: 60\n  \
         parallelCalls: 3\n\
         cluster:\n  kubeconfig: /k\n  context: c\nserve:\n  sweepIntervalSec: 0\n  \
         watchLingerSec: 5\n  leaderElection:\n    namespace: ops\n    leaseName: sweeper\n    leaseDurationSec: 4\n",
    )
    .expect("valid");
    assert_eq!(settings.serve.sweep_interval, None);
    assert_eq!(settings.serve.watch_linger, Duration::from_secs(5));
    assert_eq!(settings.serve.leader.namespace, "ops");
    assert_eq!(settings.serve.leader.lease_name, "sweeper");
    assert_eq!(settings.serve.leader.lease_duration, Duration::from_secs(4));
    assert_eq!(settings.namespace_prefix, "agents-");
    assert_eq!(settings.host_keys, ["MY_KEY"]);
    assert_eq!(settings.guest.memory_cap_bytes, 32 << 20);
    assert_eq!(settings.guest.cpu_deadline, Duration::from_millis(250));
    assert_eq!(settings.guest.call_timeout, Duration::from_secs(20));
    assert_eq!(settings.guest.exec_timeout, Duration::from_secs(60));
    assert_eq!(settings.guest.parallel_calls, 3);
    assert_eq!(settings.cluster.kubeconfig, Some(PathBuf::from("/k")));
    assert_eq!(settings.cluster.context.as_deref(), Some("c"));
}

#[test]
fn parallel_calls_of_zero_is_no_limit() {
    let settings = parse("guest:\n  parallelCalls: 0\n").expect("valid");
    assert_eq!(settings.guest.parallel_calls, usize::MAX);
}

#[test]
fn flags_override_the_file() {
    let overrides = Overrides {
        namespace_prefix: Some("flag-".into()),
        host_keys: Some(vec![]),
        kubeconfig: Some("/flag".into()),
        context: None,
    };
    let settings = HostSettings::parse(
        "fence:\n  namespacePrefix: file-\ncluster:\n  context: file\n",
        &overrides,
        None,
    )
    .expect("valid");
    assert_eq!(settings.namespace_prefix, "flag-");
    assert!(
        settings.host_keys.is_empty(),
        "an empty list grants nothing"
    );
    assert_eq!(settings.cluster.kubeconfig, Some(PathBuf::from("/flag")));
    assert_eq!(settings.cluster.context.as_deref(), Some("file"));
}

#[rstest]
#[case::kube_prefix("kube-")]
#[case::bare_kube("kube")]
#[case::default_namespace("default")]
#[case::prefix_of_default("def")]
#[case::empty("")]
#[case::uppercase("Leasebox-")]
#[case::leading_dash("-x")]
fn prefix_that_reaches_system_namespaces_or_is_malformed_is_refused(#[case] prefix: &str) {
    let text = format!("fence:\n  namespacePrefix: {prefix:?}\n");
    let err = parse(&text).expect_err("refused");
    assert!(err.to_string().contains("fence.namespacePrefix"), "{err}");
}

#[test]
fn unknown_field_is_named() {
    let err = parse("fence:\n  prefix: x-\n").expect_err("unknown field");
    assert!(err.to_string().contains("prefix"), "{err}");
}

#[test]
fn zero_timeout_is_refused_naming_the_field() {
    let err = parse("guest:\n  callTimeoutSec: 0\n").expect_err("zero");
    assert!(err.to_string().contains("guest.callTimeoutSec"), "{err}");
}

#[rstest::rstest]
#[case(
    "serve:\n  leaderElection:\n    leaseDurationSec: 1\n",
    "serve.leaderElection.leaseDurationSec"
)]
#[case(
    "serve:\n  leaderElection:\n    namespace: Kube_System\n",
    "serve.leaderElection.namespace"
)]
#[case(
    "serve:\n  leaderElection:\n    leaseName: \"\"\n",
    "serve.leaderElection.leaseName"
)]
fn bad_leader_election_setting_is_refused_naming_the_field(
    #[case] text: &str,
    #[case] field: &str,
) {
    let err = parse(text).expect_err("refused");
    assert!(err.to_string().contains(field), "{err}");
}

#[test]
fn a_watch_linger_over_an_hour_is_refused_naming_the_field() {
    let err = parse("serve:\n  watchLingerSec: 3601\n").expect_err("refused");
    assert!(err.to_string().contains("serve.watchLingerSec"), "{err}");
    assert!(err.to_string().contains("0 to 3600"), "{err}");
    let zero = parse("serve:\n  watchLingerSec: 0\n").expect("0 is allowed");
    assert_eq!(zero.serve.watch_linger, Duration::ZERO);
}

#[test]
fn host_key_that_is_not_a_variable_name_is_refused() {
    let err = parse("secrets:\n  hostKeys: [\"A-B\"]\n").expect_err("bad key");
    assert!(err.to_string().contains("secrets.hostKeys"), "{err}");
}

#[test]
fn builtin_keys_are_the_default_policys_adapter_keys() {
    let mut expected: Vec<String> = leasebox_policy::adapters::builtins()
        .into_iter()
        .flat_map(|adapter| adapter.env_keys)
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(BUILTIN_ADAPTER_KEYS, expected);
}

mod deploy {
    use super::*;

    #[test]
    fn deployed_example_settings_are_the_defaults() {
        let text = include_str!("../../../deploy/settings.yaml");
        let settings =
            HostSettings::parse(text, &Overrides::default(), None).expect("deploy/settings.yaml");
        assert_eq!(settings, HostSettings::default());
    }

    const PLATFORM_EXAMPLE: &str = include_str!("../../../deploy/platform-example.yaml");

    /// The documents of `deploy/platform-example.yaml`.
    fn platform_example() -> Vec<serde_yaml::Value> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(PLATFORM_EXAMPLE) {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("deploy/platform-example.yaml does not parse: {e}"));
            out.push(value);
        }
        out
    }

    /// The object of `kind` named `name` in the platform example.
    fn platform_example_object(kind: &str, name: &str) -> serde_yaml::Value {
        platform_example()
            .into_iter()
            .find(|doc| {
                doc["kind"].as_str() == Some(kind) && doc["metadata"]["name"].as_str() == Some(name)
            })
            .unwrap_or_else(|| panic!("deploy/platform-example.yaml has no {kind} {name}"))
    }

    /// The host settings the platform example mounts (ConfigMap
    /// `leasebox-settings`, key `settings.yaml`).
    fn platform_example_settings() -> String {
        let config_map = platform_example_object("ConfigMap", "leasebox-settings");
        config_map["data"]["settings.yaml"]
            .as_str()
            .expect("ConfigMap leasebox-settings has data.settings.yaml")
            .to_string()
    }

    #[test]
    fn platform_example_settings_load_and_keep_the_default_limits() {
        let text = platform_example_settings();
        let settings = HostSettings::parse(
            &text,
            &Overrides::default(),
            Some(PathBuf::from(
                "deploy/platform-example.yaml#leasebox-settings",
            )),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let defaults = HostSettings::default();
        assert_eq!(settings.namespace_prefix, defaults.namespace_prefix);
        assert_eq!(settings.host_keys, defaults.host_keys);
        assert_eq!(settings.guest, defaults.guest);
        assert_eq!(
            settings.cluster,
            ClusterSettings::default(),
            "in a pod: in-cluster"
        );
    }

    #[test]
    fn platform_example_binds_the_sweep_leader_role_where_its_election_lease_lives() {
        let settings: serde_yaml::Value =
            serde_yaml::from_str(&platform_example_settings()).expect("settings YAML");
        let lease_namespace = settings["serve"]["leaderElection"]["namespace"]
            .as_str()
            .expect("serve.leaderElection.namespace");
        let binding = platform_example_object("RoleBinding", "agent-platform-sweep-leader");
        assert_eq!(
            binding["metadata"]["namespace"].as_str(),
            Some(lease_namespace)
        );
    }

    #[test]
    fn callback_namespaces_and_company_aliases_are_read_and_checked() {
        let settings = super::HostSettings::parse(
            "fence:\n  callbackNamespaces: [paperclip]\n  companyAliases:\n    RT-COLL: rt-coll\n",
            &super::Overrides::default(),
            None,
        )
        .expect("valid");
        assert_eq!(settings.callback_namespaces, ["paperclip"]);
        assert_eq!(settings.company_aliases["RT-COLL"], "rt-coll");
        let err = super::HostSettings::parse(
            "fence:\n  callbackNamespaces: [Not_A_Name]\n",
            &super::Overrides::default(),
            None,
        )
        .expect_err("invalid");
        assert!(
            err.to_string().contains("fence.callbackNamespaces"),
            "{err}"
        );
        let err = super::HostSettings::parse(
            "fence:\n  companyAliases:\n    a: b\n    b: c\n",
            &super::Overrides::default(),
            None,
        )
        .expect_err("chained");
        assert!(err.to_string().contains("fence.companyAliases"), "{err}");
    }
}

#[test]
fn pools_are_off_by_default_and_on_with_both_caps() {
    assert_eq!(parse("").expect("defaults").pools, PoolSettings::default());
    assert!(!PoolSettings::default().enabled());
    let on = parse("pools:\n  maxPerTenant: 8\n  maxTotal: 40\n").expect("valid");
    assert_eq!(
        on.pools,
        PoolSettings {
            max_per_tenant: 8,
            max_total: 40
        }
    );
    assert!(on.pools.enabled());
}

#[rstest]
#[case("pools:\n  maxPerTenant: 8\n", "pools.maxTotal")]
#[case("pools:\n  maxPerTenant: 9\n  maxTotal: 8\n", "pools.maxPerTenant")]
#[case(
    "pools:\n  maxPerTenant: 1001\n  maxTotal: 2000\n",
    "pools.maxPerTenant"
)]
#[case("pools:\n  maxTotall: 3\n", "maxTotall")]
fn a_pool_cap_that_cannot_hold_is_named(#[case] text: &str, #[case] field: &str) {
    let err = parse(text).expect_err("invalid");
    assert!(err.to_string().contains(field), "{err}");
}
