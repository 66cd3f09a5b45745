//! The deployment files agree with each other and with the gateway: the container image
//! (`deploy/Containerfile` and the config it ships), the Kubernetes manifests
//! (`deploy/kubernetes/`) and the Debian package (`[package.metadata.deb]`, the unit, the config).
//! Each config must be one the gateway accepts; ports, paths, probe URLs, the config file's path
//! and the unit's paths must match what the config says; and the probe paths the files name are
//! asked of a real gateway. No container runtime builds the image here (see docs/operations.md),
//! so this is what keeps the files honest.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aupgate::config::Config;
use serde::Deserialize;
use serde_json::Value;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn parse_config(what: &str, text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|errors| panic!("{what}: {errors}"))
}

/// The SMTP listeners' ports, by listener name.
fn listener_ports(config: &Config) -> BTreeMap<String, u16> {
    config
        .listeners
        .iter()
        .map(|l| {
            let address: std::net::SocketAddr = l.address.parse().expect("ip:port");
            (l.name.clone(), address.port())
        })
        .collect()
}

fn admin_port(config: &Config) -> u16 {
    let address: std::net::SocketAddr = config.admin.address.parse().expect("ip:port");
    address.port()
}

fn seconds(text: &str) -> u64 {
    aupgate::config::units::parse_duration(text)
        .unwrap_or_else(|e| panic!("`{text}`: {e}"))
        .as_secs()
}

/// A Containerfile as (instruction, arguments) pairs: comments dropped, continuations joined.
fn containerfile(text: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (instruction, arguments) = current.trim().split_once(' ').expect("an instruction");
                instructions.push((instruction.to_string(), arguments.trim().to_string()));
                current.clear();
            }
        }
    }
    instructions
}

fn all<'a>(instructions: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    instructions
        .iter()
        .filter(|(i, _)| i == name)
        .map(|(_, a)| a.as_str())
        .collect()
}

fn one<'a>(instructions: &'a [(String, String)], name: &str) -> &'a str {
    let found = all(instructions, name);
    assert_eq!(found.len(), 1, "one {name} in {found:?}");
    found[0]
}

/// The path of the image's HEALTHCHECK URL, and that URL's authority.
fn image_health_check(file: &[(String, String)]) -> (String, String) {
    let check = one(file, "HEALTHCHECK");
    let url = check
        .split('"')
        .find(|part| part.starts_with("http://"))
        .expect("a URL in the HEALTHCHECK");
    let (authority, path) = url["http://".len()..].split_once('/').expect("a path");
    (authority.to_string(), format!("/{path}"))
}

/// The image: a bookworm build stage with libclang, a slim bookworm runtime that copies the
/// config its command names, exposes exactly the config's ports, keeps the data directory in a
/// volume, runs as non-root and checks health on the admin listener.
#[test]
fn the_container_image_agrees_with_its_config() {
    let file = containerfile(&read("deploy/Containerfile"));
    let from = all(&file, "FROM");
    assert_eq!(from.len(), 2, "a build stage and a runtime stage: {from:?}");
    assert!(
        from[0].contains("-bookworm") && from[0].ends_with(" AS build"),
        "{from:?}"
    );
    assert_eq!(from[1], "docker.io/library/debian:bookworm-slim");
    let runs = all(&file, "RUN").join("\n");
    assert!(runs.contains("libclang-dev") && runs.contains("cargo build --release --locked"));

    let command: Vec<String> = serde_json::from_str(one(&file, "CMD")).expect("CMD in exec form");
    let entrypoint: Vec<String> = serde_json::from_str(one(&file, "ENTRYPOINT")).expect("exec form");
    assert_eq!(entrypoint, ["/usr/bin/aupgate"]);
    assert_eq!(command[..2], ["serve", "--config"]);
    let config_path = &command[2];
    let copies = all(&file, "COPY");
    let copied_config = copies
        .iter()
        .find_map(|c| c.strip_suffix(&format!(" {config_path}")))
        .unwrap_or_else(|| panic!("no COPY to {config_path} in {copies:?}"));
    assert_eq!(copied_config, "deploy/container/aupgate.toml");
    assert!(copies.contains(&"--from=build /src/target/release/aupgate /usr/bin/aupgate"));
    let config = parse_config(copied_config, &read(copied_config));

    let exposed: BTreeSet<u16> = one(&file, "EXPOSE")
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    let mut ports: BTreeSet<u16> = listener_ports(&config).into_values().collect();
    ports.insert(admin_port(&config));
    assert_eq!(exposed, ports, "EXPOSE is the listeners' and the admin API's ports");
    assert!(
        ports.iter().all(|p| *p > 1024),
        "a non-root user binds no port below 1024"
    );

    let volumes: Vec<String> = serde_json::from_str(one(&file, "VOLUME")).expect("VOLUME in exec form");
    assert_eq!(volumes, std::slice::from_ref(&config.server.data_dir));
    assert_eq!(
        all(&file, "WORKDIR").last().copied(),
        Some(config.server.data_dir.as_str())
    );
    let backups = config.admin.backup_dir.as_deref().expect("backup_dir");
    assert!(
        backups.starts_with(&format!("{}/", config.server.data_dir)),
        "backups on the volume"
    );
    assert!(copies.contains(&format!("policies/*.toml {}/", config.policy.directory).as_str()));
    let user = one(&file, "USER");
    assert!(!user.starts_with('0') && !user.starts_with("root"), "USER {user}");
    assert_eq!(one(&file, "STOPSIGNAL"), "SIGTERM");

    let (authority, _) = image_health_check(&file);
    assert_eq!(
        authority, config.admin.address,
        "the HEALTHCHECK asks the admin listener"
    );
}

/// Every document of every manifest, by (kind, name).
fn manifests() -> BTreeMap<(String, String), Value> {
    let mut documents = BTreeMap::new();
    let listed: Value = serde_yaml::from_str(&read("deploy/kubernetes/kustomization.yaml")).expect("YAML");
    let resources: Vec<String> = serde_json::from_value(listed["resources"].clone()).expect("resources");
    let mut on_disk: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes"))
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    on_disk.sort();
    let mut sorted = resources.clone();
    sorted.sort();
    assert_eq!(sorted, on_disk, "kustomization.yaml lists every manifest");
    for file in resources {
        let text = read(&format!("deploy/kubernetes/{file}"));
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).unwrap_or_else(|e| panic!("{file}: {e}"));
            let kind = value["kind"].as_str().expect("kind").to_string();
            let name = value["metadata"]["name"].as_str().expect("name").to_string();
            assert!(documents.insert((kind, name), value).is_none(), "{file}: a duplicate");
        }
    }
    documents
}

fn get<'a>(documents: &'a BTreeMap<(String, String), Value>, kind: &str, name: &str) -> &'a Value {
    documents
        .get(&(kind.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn container<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn mount_path<'a>(container: &'a Value, volume: &str) -> &'a str {
    container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["name"] == volume)
        .and_then(|m| m["mountPath"].as_str())
        .unwrap_or_else(|| panic!("{} does not mount {volume}", container["name"]))
}

/// The gateway container's HTTP probes: (probe, path).
fn pod_probes(documents: &BTreeMap<(String, String), Value>) -> Vec<(&'static str, String)> {
    let spec = &get(documents, "StatefulSet", "aupgate")["spec"]["template"]["spec"];
    let gateway = container(&spec["containers"], "aupgate");
    ["startupProbe", "livenessProbe", "readinessProbe"]
        .into_iter()
        .map(|probe| {
            let path = gateway[probe]["httpGet"]["path"].as_str().expect("an HTTP probe");
            (probe, path.to_string())
        })
        .collect()
}

/// The config the pods run: the ConfigMap's file, then the Secret's (as the init container
/// concatenates them), with the Secret's placeholders as given or replaced.
fn pod_config(documents: &BTreeMap<(String, String), Value>, replace: bool) -> Result<Config, String> {
    let base = get(documents, "ConfigMap", "aupgate-config")["data"]["aupgate.toml"]
        .as_str()
        .expect("aupgate.toml");
    let mut secrets = get(documents, "Secret", "aupgate-secrets")["stringData"]["secrets.toml"]
        .as_str()
        .expect("secrets.toml")
        .to_string();
    if replace {
        let token_hash = "0123456789abcdef".repeat(4);
        secrets = secrets
            .replace("REPLACE-with-sha256-of-admin-token", &token_hash)
            .replace(
                "REPLACE-with-openssl-rand-base64-32",
                "c2l4dGVlbiBieXRlcyBvZiBzZWNyZXQgb3IgbW9yZQ==",
            );
    }
    Config::parse(&format!("{base}{secrets}")).map_err(|errors| errors.to_string())
}

/// The manifests: the config pods run is valid only once the Secret's placeholders are replaced;
/// the pod's ports, probes, volumes and grace period agree with it; the Services and the
/// disruption budget reach the pods.
#[test]
fn the_kubernetes_manifests_agree_with_the_config() {
    let documents = manifests();
    let refused = pod_config(&documents, false).expect_err("placeholders must not pass");
    assert!(
        refused.contains("admin.tokens[0].sha256") && refused.contains("feedback.trace_keys[0]"),
        "{refused}"
    );
    let config = pod_config(&documents, true).expect("the pods' config");
    let ports = listener_ports(&config);
    let admin = admin_port(&config);

    let set = get(&documents, "StatefulSet", "aupgate");
    let spec = &set["spec"]["template"]["spec"];
    let labels = &set["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&set["spec"]["selector"]["matchLabels"], labels);
    let gateway = container(&spec["containers"], "aupgate");
    let init = container(&spec["initContainers"], "config");
    assert_eq!(gateway["image"], init["image"]);

    // Ports: one named container port per listener, and the admin API.
    let container_ports: BTreeMap<String, u64> = gateway["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_string(),
                p["containerPort"].as_u64().expect("port"),
            )
        })
        .collect();
    let expected: BTreeMap<String, u64> = [
        ("smtp".to_string(), u64::from(ports["relay"])),
        ("submission".to_string(), u64::from(ports["submission"])),
        ("submissions".to_string(), u64::from(ports["submissions"])),
        ("admin".to_string(), u64::from(admin)),
    ]
    .into();
    assert_eq!(container_ports, expected);
    assert_eq!(
        config.admin.address,
        format!("0.0.0.0:{admin}"),
        "kubelets reach the probes"
    );

    // Probes on the admin port (their paths are asked of a real gateway below).
    for (probe, path) in pod_probes(&documents) {
        assert_eq!(gateway[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(gateway[probe]["httpGet"]["port"], "admin", "{probe}");
    }
    assert_eq!(gateway["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(gateway["readinessProbe"]["httpGet"]["path"], "/readyz");

    // The config file: written by the init container into the runtime volume, read by serve.
    let args: Vec<String> = serde_json::from_value(gateway["args"].clone()).expect("args");
    assert_eq!(args[..2], ["serve", "--config"]);
    let config_path = Path::new(&args[2]);
    let runtime = config_path.parent().expect("a directory").to_str().expect("UTF-8");
    assert_eq!(mount_path(gateway, "runtime"), runtime);
    assert_eq!(mount_path(init, "runtime"), runtime);
    let script = init["command"][2].as_str().expect("the init script");
    let base = mount_path(init, "config");
    let secret = mount_path(init, "secrets");
    assert!(
        script.contains(&format!(
            "cat {base}/aupgate.toml {secret}/secrets.toml > {}",
            config_path.display()
        )),
        "{script}"
    );
    assert!(script.contains(&format!("exec aupgate check-config {}", config_path.display())));
    let volumes = spec["volumes"].as_array().expect("volumes");
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).expect("a volume");
    assert_eq!(volume("config")["configMap"]["name"], "aupgate-config");
    assert_eq!(volume("secrets")["secret"]["secretName"], "aupgate-secrets");

    // The data directory is the claim's volume, in both containers; backups go onto it.
    let claim = &set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"];
    let claim = claim.as_str().expect("a claim");
    assert_eq!(mount_path(gateway, claim), config.server.data_dir);
    assert_eq!(mount_path(init, claim), config.server.data_dir);
    assert!(script.contains(&format!("{}/dkim/", config.server.data_dir)));
    let backups = config.admin.backup_dir.as_deref().expect("backup_dir");
    assert!(backups.starts_with(&format!("{}/", config.server.data_dir)));

    // The policy profiles are the image's.
    let image = containerfile(&read("deploy/Containerfile"));
    assert!(all(&image, "COPY").contains(&format!("policies/*.toml {}/", config.policy.directory).as_str()));

    // Stopping: the preStop pause, then SIGTERM and the drain, within the grace period.
    let pause: Vec<String> =
        serde_json::from_value(gateway["lifecycle"]["preStop"]["exec"]["command"].clone()).expect("a preStop command");
    assert_eq!(pause[0], "sleep");
    let pause: u64 = pause[1].parse().expect("seconds");
    let grace = spec["terminationGracePeriodSeconds"].as_u64().expect("a grace period");
    let drain = config.server.shutdown_grace.get().as_secs();
    assert!(
        pause + drain < grace,
        "preStop {pause}s + shutdown_grace {drain}s < {grace}s"
    );

    // The CLI in the pod has the Secret's admin token.
    let env = gateway["env"].as_array().expect("env");
    let token = env
        .iter()
        .find(|e| e["name"] == "AUPGATE_TOKEN")
        .expect("AUPGATE_TOKEN");
    let key = &token["valueFrom"]["secretKeyRef"];
    assert_eq!(key["name"], "aupgate-secrets");
    let key = key["key"].as_str().expect("a key");
    assert!(get(&documents, "Secret", "aupgate-secrets")["stringData"][key].is_string());

    // Non-root, no privileges.
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    for c in [gateway, init] {
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    }

    // Services: the tenants' ports to the listeners (client addresses kept), the admin port.
    let smtp = &get(&documents, "Service", "aupgate-smtp")["spec"];
    assert_eq!(
        smtp["externalTrafficPolicy"], "Local",
        "tenants are known by their address"
    );
    let published: BTreeMap<u64, String> = smtp["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["port"].as_u64().expect("port"),
                p["targetPort"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    assert_eq!(
        published,
        BTreeMap::from([
            (25, "smtp".to_string()),
            (465, "submissions".to_string()),
            (587, "submission".to_string())
        ])
    );
    let admin_service = &get(&documents, "Service", "aupgate-admin")["spec"];
    assert_eq!(admin_service["type"], "ClusterIP");
    assert_eq!(admin_service["ports"][0]["targetPort"], "admin");
    let headless = get(
        &documents,
        "Service",
        set["spec"]["serviceName"].as_str().expect("serviceName"),
    );
    assert_eq!(headless["spec"]["clusterIP"], "None");
    for service in ["aupgate-smtp", "aupgate-admin", "aupgate"] {
        assert_eq!(
            &get(&documents, "Service", service)["spec"]["selector"],
            labels,
            "{service}"
        );
    }
    let budget = get(&documents, "PodDisruptionBudget", "aupgate");
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
}

/// The Debian package: the unit runs the packaged binary on the packaged config, its state
/// directory is the config's data directory, its stop timeout covers the drain, it may bind
/// low ports and nothing else; the packaged config is valid and names the packaged profiles.
#[test]
fn the_debian_package_agrees_with_its_unit_and_config() {
    let manifest: toml::Value = toml::from_str(&read("Cargo.toml")).expect("Cargo.toml");
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets: Vec<(String, String)> = deb["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            (
                a[0].as_str().expect("source").to_string(),
                format!("/{}", a[1].as_str().expect("destination")),
            )
        })
        .collect();
    let installed = |source: &str| {
        assets
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("{source} is not packaged"))
    };
    assert_eq!(installed("target/release/aupgate"), "/usr/bin/");
    let config_path = installed("deploy/debian/aupgate.toml");
    let config = parse_config(&config_path, &read("deploy/debian/aupgate.toml"));

    let unit = read("deploy/debian/aupgate.service");
    let keys: BTreeMap<&str, Vec<&str>> = unit
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .fold(BTreeMap::new(), |mut map, (k, v)| {
            map.entry(k).or_insert_with(Vec::new).push(v);
            map
        });
    let key = |name: &str| -> &str {
        let values = keys.get(name).unwrap_or_else(|| panic!("no {name}="));
        assert_eq!(values.len(), 1, "{name}= once");
        values[0]
    };
    assert_eq!(
        key("ExecStart"),
        format!("/usr/bin/aupgate serve --config {config_path}")
    );
    assert_eq!(
        key("ExecStartPre"),
        format!("/usr/bin/aupgate check-config {config_path}")
    );
    assert_eq!(key("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(key("KillSignal"), "SIGTERM");
    assert_eq!(key("Restart"), "on-failure");
    assert_eq!(key("NoNewPrivileges"), "yes");
    assert_eq!(key("ProtectSystem"), "strict");
    assert_eq!(key("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
    assert_eq!(key("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
    let stop = seconds(key("TimeoutStopSec"));
    let drain = config.server.shutdown_grace.get().as_secs();
    assert!(drain < stop, "shutdown_grace {drain}s < TimeoutStopSec {stop}s");

    // The state directory is the data directory, and the only place the unit may write.
    let state = format!("/var/lib/{}", key("StateDirectory"));
    assert_eq!(config.server.data_dir, state);
    assert_eq!(key("WorkingDirectory"), state);
    assert!(
        !keys.contains_key("ReadWritePaths"),
        "nothing writable but the state directory"
    );
    let backups = config.admin.backup_dir.as_deref().expect("backup_dir");
    assert!(
        backups.starts_with(&format!("{state}/")),
        "backups inside the state directory"
    );
    assert_eq!(config.store.path, None, "the store under data_dir");

    // The user the unit runs as is the one sysusers creates.
    let sysusers = read("deploy/debian/aupgate.sysusers");
    let user_line = sysusers.lines().find(|l| l.starts_with("u ")).expect("a user");
    let fields: Vec<&str> = user_line.split_whitespace().collect();
    assert_eq!(fields[1], key("User"));
    assert_eq!(key("Group"), key("User"));
    assert!(user_line.contains(&format!(" {state} ")), "{user_line}");

    // The profiles are where the config looks, and the low ports are the unit's to bind.
    assert_eq!(installed("policies/*.toml"), format!("{}/", config.policy.directory));
    let ports = listener_ports(&config);
    assert_eq!(
        ports,
        BTreeMap::from([
            ("relay".to_string(), 25),
            ("submission".to_string(), 587),
            ("submissions".to_string(), 465)
        ])
    );
    assert_eq!(config.admin.address, "127.0.0.1:8025", "the admin API on loopback");
}

/// The probe paths the image and the manifests name answer `200 ok` on a real gateway.
#[tokio::test]
async fn the_probe_paths_the_files_name_are_served() {
    let mut paths: BTreeSet<String> = pod_probes(&manifests()).into_iter().map(|(_, p)| p).collect();
    paths.insert(image_health_check(&containerfile(&read("deploy/Containerfile"))).1);
    let h = support::Harness::start().await;
    for path in &paths {
        let response = reqwest::get(format!("http://{}{path}", h.gateway.admin_address))
            .await
            .expect("admin listener");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.text().await.expect("body"), "ok", "{path}");
    }
}
