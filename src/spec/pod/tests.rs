//! Tests of the Pod manifest layer: seed manifests, defaults, every validation rule with its
//! path, and hostile input.

use super::*;
use crate::spec::field_error::InvalidPod;
use crate::spec::quantity::Quantity;

/// A manifest users start from, as published: a sidecar gated by a postStart httpGet to the
/// main container, the two sharing an emptyDir (note the flow sequence with a trailing comma).
const SEED_SIDECAR: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: sidecar-container-demo
spec:
  containers:
  - image: busybox
    command: ["/bin/sh"]
    args:
      [
        "-c",
        "while true; do echo echo $(date -u) 'Written by busybox sidecar container' >> /var/log/index.html; sleep 5;done",
      ]
    name: sidecar-container
    resources: {}
    volumeMounts:
    - name: var-logs
      mountPath: /var/log
    lifecycle:
      postStart:
        httpGet:
          path: /index.html
          port: 80
          host: localhost
          scheme: HTTP
  - image: nginx
    name: main-container
    resources: {}
    ports:
    - containerPort: 80
    volumeMounts:
    - name: var-logs
      mountPath: /usr/share/nginx/html
  dnsPolicy: Default
  volumes:
  - name: var-logs
    emptyDir: {}
"#;

/// A manifest users start from, as published: a preStop that logs to PID 1's stdout.
const SEED_PRESTOP: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: prestop-demo
spec:
  containers:
  - image: nginx
    name: nginx-container
    resources: {}
    ports:
    - containerPort: 80
    lifecycle:
      preStop:
        exec:
          command:
          - sh
          - -c
          - echo "Stopping container now...">/proc/1/fd/1 && nginx -s stop
  dnsPolicy: Default
"#;

/// A manifest users start from, as published: a Deployment with both hooks; only its pod
/// template is run.
const SEED_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: my-app
spec:
  replicas: 3
  selector:
    matchLabels:
      app: my-app
  template:
    metadata:
      labels:
        app: my-app
    spec:
      containers:
      - name: my-app
        image: my-app:1.0.0
        ports:
        - containerPort: 8080
        lifecycle:
          postStart:
            exec:
              command: ["/bin/sh", "-c", "echo Hello from the postStart handler > /usr/share/message"]
          preStop:
            exec:
              command: ["/bin/sh", "-c", "nginx -s quit; while killall -0 nginx; do sleep 1; done"]
"#;

/// The preStop manifest above as JSON.
const SEED_PRESTOP_JSON: &str = r#"{
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "prestop-demo", "creationTimestamp": null},
  "spec": {
    "containers": [{
      "image": "nginx", "name": "nginx-container", "resources": {},
      "ports": [{"containerPort": 80}],
      "lifecycle": {"preStop": {"exec": {"command":
        ["sh", "-c", "echo \"Stopping container now...\">/proc/1/fd/1 && nginx -s stop"]}}}
    }],
    "dnsPolicy": "Default"
  },
  "status": {}
}"#;

fn manifest(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: t}}\nspec: {spec}\n")
}

fn ok(spec: &str) -> Pod {
    parse(&manifest(spec), "pod.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// The one-line error of an invalid spec.
fn err(spec: &str) -> String {
    let e = parse(&manifest(spec), "pod.yaml").map(|_| ()).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(e.starts_with("pod.yaml: "), "{e}");
    e
}

fn has(e: &str, want: &str) {
    assert!(e.contains(want), "expected {want:?} in:\n{e}");
}

const C: &str = "{name: app, image: busybox}";

#[test]
fn seed_manifests_parse() {
    let p = parse(SEED_SIDECAR, "seed1.yaml").unwrap();
    assert_eq!(p.spec.containers.len(), 2);
    let side = &p.spec.containers[0];
    assert_eq!(side.args[0], "-c");
    let Some(Action::HttpGet(h)) = side.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()).and_then(|h| h.action())
    else {
        panic!("httpGet postStart")
    };
    assert_eq!(
        (h.path.as_str(), &h.port, h.host.as_deref(), h.scheme),
        ("/index.html", &IntOrString::Int(80), Some("localhost"), Scheme::Http)
    );
    assert_eq!(p.spec.dns_policy, DnsPolicy::Default);
    assert!(p.spec.volumes[0].empty_dir.is_some());
    // The failing variant of the article: port 5000 (nothing listens there, but it is valid).
    parse(&SEED_SIDECAR.replace("port: 80\n", "port: 5000\n"), "seed1b.yaml").unwrap();

    let p = parse(SEED_PRESTOP, "seed2.yaml").unwrap();
    let Some(Action::Exec(e)) =
        p.spec.containers[0].lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).and_then(|h| h.action())
    else {
        panic!("exec preStop")
    };
    assert_eq!(e.command[2], r#"echo "Stopping container now...">/proc/1/fd/1 && nginx -s stop"#);

    let p = parse_any(SEED_DEPLOYMENT, "seed3.yaml").unwrap();
    assert_eq!(
        (p.kind.as_str(), p.metadata.name.as_str(), p.metadata.namespace.as_str()),
        ("Pod", "my-app", "default")
    );
    assert_eq!(p.metadata.labels["app"], "my-app");
    assert_eq!(p.spec.containers[0].image_pull_policy, Some(PullPolicy::IfNotPresent));
    has(
        &parse(SEED_DEPLOYMENT, "seed3.yaml").unwrap_err().to_string(),
        r#"seed3.yaml: kind: Unsupported value: "Deployment""#,
    );
    // parse_any takes Pods too; errors inside a template name the template path.
    assert_eq!(parse_any(SEED_PRESTOP, "x").unwrap().metadata.name, "prestop-demo");
    let e = parse_any(&SEED_DEPLOYMENT.replace("name: my-app\n        image", "name: My_App\n        image"), "d.yaml")
        .unwrap_err();
    has(&e.to_string(), r#"d.yaml: spec.template.spec.containers[0].name: Invalid value: "My_App""#);
    let e = parse_any(
        &SEED_DEPLOYMENT.replace("containerPort: 8080", "containerPort: 8080\n          hostPortt: 1"),
        "d.yaml",
    )
    .unwrap_err();
    has(&e.to_string(), "d.yaml: spec.template.spec.containers[0].ports[0].hostPortt: unknown field `hostPortt`, did you mean `hostPort`?");
}

#[test]
fn yaml_flow_mapping_is_not_mistaken_for_json() {
    let p =
        parse(&format!("{{apiVersion: v1, kind: Pod, metadata: {{name: a}}, spec: {{containers: [{C}]}}}}"), "f.yaml")
            .unwrap();
    assert_eq!(p.spec.containers[0].name, "app");
    // Broken JSON keeps JSON's error.
    has(
        &parse("{\"apiVersion\": \"v1\", \"spec\": [}", "f.json").unwrap_err().to_string(),
        "f.json: spec: expected value at line 1 column 31",
    );
}

#[test]
fn many_errors_are_summarised() {
    let containers: Vec<String> = (0..30).map(|i| format!("{{name: C{i}, image: b}}")).collect();
    let e = err(&format!("{{containers: [{}]}}", containers.join(", ")));
    has(&e, "spec.containers[19].name: Invalid value: \"C19\"");
    has(&e, "; and 10 more errors");
}

#[test]
fn yaml_and_json_give_the_same_pod() {
    let mut a = parse(SEED_PRESTOP, "a.yaml").unwrap();
    let b = parse(SEED_PRESTOP_JSON, "b.json").unwrap();
    assert_ne!(a.metadata.uid, b.metadata.uid, "fresh uid per parse");
    a.metadata.uid = b.metadata.uid.clone();
    assert_eq!(a, b);
}

#[test]
fn serialized_pod_parses_back_to_itself() {
    for text in [SEED_SIDECAR, SEED_PRESTOP] {
        let p = parse(text, "x").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("null") && !json.contains("\"status\""), "{json}");
        assert_eq!(parse(&json, "echo.json").unwrap(), p);
    }
    let json = serde_json::to_value(parse(SEED_PRESTOP, "x").unwrap()).unwrap();
    assert_eq!(json["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");
    assert!(json["spec"].get("initContainers").is_none());
}

#[test]
fn defaults_are_applied() {
    let p = ok("{hostNetwork: true, terminationGracePeriodSeconds: -5, containers: [{name: app, image: 'busybox', \
        ports: [{containerPort: 8080, name: http}], resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 100m}}, \
        livenessProbe: {httpGet: {port: http}}, readinessProbe: {exec: {command: [true]}, periodSeconds: 0}}]}");
    assert_eq!(p.metadata.namespace, "default");
    let u = &p.metadata.uid;
    assert!(u.len() == 36 && u.as_bytes()[14] == b'4' && u.matches('-').count() == 4, "{u}");
    assert_eq!(p.spec.restart_policy, RestartPolicy::Always);
    assert_eq!(p.spec.termination_grace_period_seconds, 1, "negative grace becomes 1");
    assert_eq!(p.spec.dns_policy, DnsPolicy::ClusterFirst);
    let c = &p.spec.containers[0];
    assert_eq!(c.image_pull_policy, Some(PullPolicy::Always));
    assert_eq!(c.termination_message_path, "/dev/termination-log");
    assert_eq!(c.termination_message_policy, TerminationMessagePolicy::File);
    assert_eq!((c.ports[0].protocol, c.ports[0].host_port), (Protocol::Tcp, Some(8080)));
    assert_eq!(c.resources.requests["cpu"], Quantity::parse("100m").unwrap(), "explicit request kept");
    assert_eq!(c.resources.requests["memory"].bytes(), Some(64 << 20), "request defaults to limit");
    let l = c.liveness_probe.as_ref().unwrap();
    assert_eq!(
        (l.initial_delay_seconds, l.period_seconds, l.timeout_seconds, l.success_threshold, l.failure_threshold),
        (0, 10, 1, 1, 3)
    );
    let h = l.http_get.as_ref().unwrap();
    assert_eq!((h.path.as_str(), h.scheme), ("/", Scheme::Http));
    assert_eq!(c.readiness_probe.as_ref().unwrap().period_seconds, 10, "0 is defaulted");
    assert_eq!(ok(&format!("{{containers: [{C}]}}")).spec.termination_grace_period_seconds, 30);
    let g = parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\nspec: {containers: [{name: a, image: b}]}",
        "g",
    )
    .unwrap();
    assert!(g.metadata.name.starts_with("web-") && g.metadata.name.len() == 9, "{}", g.metadata.name);
}

#[test]
fn l100_container_names() {
    let e = err("{containers: [{name: Web_1, image: busybox}]}");
    has(&e, r#"pod.yaml: spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of"#);
    let long = "a".repeat(64);
    has(&err(&format!("{{containers: [{{name: {long}, image: busybox}}]}}")), "must be no more than 63 characters");
    ok(&format!("{{containers: [{{name: {}, image: busybox}}]}}", "a".repeat(63)));
    let e = err("{initContainers: [{name: web, image: busybox}], containers: [{name: web, image: busybox}]}");
    has(&e, r#"spec.containers[0].name: Duplicate value: "web""#);
    has(&err("{containers: [{image: busybox}]}"), "spec.containers[0].name: Required value");
    has(&err("{containers: [{name: a}]}"), "spec.containers[0].image: Required value");
    has(&err("{containers: []}"), "spec.containers: Required value");
}

#[test]
fn l101_restart_policy() {
    has(
        &err(&format!("{{restartPolicy: Sometimes, containers: [{C}]}}")),
        r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
    );
    assert_eq!(ok(&format!("{{containers: [{C}]}}")).spec.restart_policy, RestartPolicy::Always);
    assert_eq!(ok(&format!("{{restartPolicy: Never, containers: [{C}]}}")).spec.restart_policy, RestartPolicy::Never);
}

#[test]
fn l102_deadline_and_grace() {
    has(
        &err(&format!("{{activeDeadlineSeconds: 0, containers: [{C}]}}")),
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
    );
    assert_eq!(ok(&format!("{{activeDeadlineSeconds: 5, containers: [{C}]}}")).spec.active_deadline_seconds, Some(5));
    assert_eq!(
        ok(&format!("{{terminationGracePeriodSeconds: -1, containers: [{C}]}}")).spec.termination_grace_period_seconds,
        1
    );
    assert_eq!(
        ok(&format!("{{terminationGracePeriodSeconds: 0, containers: [{C}]}}")).spec.termination_grace_period_seconds,
        0
    );
}

#[test]
fn l103_share_process_namespace_with_host_pid() {
    has(
        &err(&format!("{{shareProcessNamespace: true, hostPID: true, containers: [{C}]}}")),
        "spec.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
    );
    ok(&format!("{{shareProcessNamespace: true, containers: [{C}]}}"));
}

#[test]
fn l104_volume_mounts() {
    has(
        &err("{containers: [{name: a, image: b, volumeMounts: [{name: data, mountPath: /data}]}]}"),
        r#"spec.containers[0].volumeMounts[0].name: Not found: "data""#,
    );
    let e = err("{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, image: b, \
        volumeMounts: [{name: v, mountPath: /data}, {name: v, mountPath: /data}]}]}");
    has(&e, r#"spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique"#);
    let e = err("{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, image: b, \
        volumeMounts: [{name: v, mountPath: data, subPath: ../x}, {name: v, mountPath: /y, subPath: /abs}]}]}");
    has(&e, r#"volumeMounts[0].mountPath: Invalid value: "data": must be an absolute path"#);
    has(&e, r#"volumeMounts[0].subPath: Invalid value: "../x": must not contain '..'"#);
    has(&e, r#"volumeMounts[1].subPath: Invalid value: "/abs": must be a relative path"#);
    // The same path in two containers is fine.
    ok("{volumes: [{name: v, emptyDir: {}}], containers: [{name: a, image: b, volumeMounts: [{name: v, mountPath: /d}]}, \
        {name: c, image: b, volumeMounts: [{name: v, mountPath: /d, subPath: x/y}]}]}");
}

#[test]
fn volumes() {
    has(
        &err(&format!("{{volumes: [{{name: v, configMap: {{name: cm}}}}], containers: [{C}]}}")),
        "spec.volumes[0].configMap: volume type configMap is not supported",
    );
    has(
        &err(&format!("{{volumes: [{{name: v}}], containers: [{C}]}}")),
        "spec.volumes[0]: Required value: must specify a volume type",
    );
    has(
        &err(&format!("{{volumes: [{{name: v, emptyDir: {{}}, hostPath: {{path: /x}}}}], containers: [{C}]}}")),
        "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
    );
    has(
        &err(&format!("{{volumes: [{{name: v, emptyDir: {{}}}}, {{name: v, emptyDir: {{}}}}], containers: [{C}]}}")),
        r#"spec.volumes[1].name: Duplicate value: "v""#,
    );
    has(
        &err(&format!("{{volumes: [{{name: V_1, emptyDir: {{}}}}], containers: [{C}]}}")),
        r#"spec.volumes[0].name: Invalid value: "V_1""#,
    );
    has(
        &err(&format!("{{volumes: [{{name: v, hostPath: {{path: /x, type: Dir}}}}], containers: [{C}]}}")),
        r#"spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", "DirectoryOrCreate""#,
    );
    has(
        &err(&format!("{{volumes: [{{name: v, emptyDir: {{medium: HugePages}}}}], containers: [{C}]}}")),
        r#"spec.volumes[0].emptyDir.medium: Unsupported value: "HugePages""#,
    );
    let p = ok(&format!(
        "{{volumes: [{{name: v, hostPath: {{path: /tmp, type: DirectoryOrCreate}}}}, \
        {{name: m, emptyDir: {{medium: Memory, sizeLimit: 64Mi}}}}], containers: [{C}]}}"
    ));
    assert_eq!(p.spec.volumes[0].host_path.as_ref().unwrap().type_, HostPathType::DirectoryOrCreate);
    assert_eq!(p.spec.volumes[1].empty_dir.as_ref().unwrap().size_limit.unwrap().bytes(), Some(64 << 20));
}

#[test]
fn unknown_fields_are_rejected_with_their_path() {
    let e = err("{containers: [{name: a, image: b, livenesProbe: {exec: {command: [true]}}}]}");
    has(&e, "pod.yaml: spec.containers[0].livenesProbe: unknown field `livenesProbe`, did you mean `livenessProbe`?");
    has(
        &err("{containers: [{name: a, image: b, volumeDevices: []}]}"),
        "spec.containers[0].volumeDevices: unknown field `volumeDevices`, expected one of",
    );
    has(
        &err("{containers: [{name: a, image: b, lifecycle: {preStop: {httpGet: {port: 80, bogus: 1}}}}]}"),
        "spec.containers[0].lifecycle.preStop.httpGet.bogus: unknown field",
    );
    // metadata is lenient: kubectl output parses.
    let p = parse(&format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: t, creationTimestamp: null, resourceVersion: '1'}}\nspec: {{containers: [{C}]}}\nstatus: {{phase: Running}}\n"), "x");
    assert!(p.is_ok(), "{p:?}");
}

#[test]
fn unquoted_yaml_scalars_become_strings() {
    // kubectl would read a bool and an int here and reject the manifest; runp takes the text.
    let p = ok("{containers: [{name: a, image: b, env: [{name: A, value: yes}, {name: B, value: 0755}, {name: C, value: 1.50}]}]}");
    let v: Vec<_> = p.spec.containers[0].env.iter().map(|e| e.value.clone().unwrap()).collect();
    assert_eq!(v, ["yes", "0755", "1.50"]);
}

#[test]
fn init_containers_and_sidecars() {
    let hooks = "lifecycle: {postStart: {exec: {command: [true]}}}, readinessProbe: {exec: {command: [true]}}";
    let e = err(&format!("{{initContainers: [{{name: i, image: b, {hooks}}}], containers: [{C}]}}"));
    has(
        &e,
        "spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
    );
    has(&e, "spec.initContainers[0].readinessProbe: Forbidden");
    let p =
        ok(&format!("{{initContainers: [{{name: i, image: b, restartPolicy: Always, {hooks}}}], containers: [{C}]}}"));
    assert!(p.spec.init_containers[0].is_sidecar());
    has(
        &err(&format!("{{initContainers: [{{name: i, image: b, restartPolicy: OnFailure}}], containers: [{C}]}}")),
        r#"spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#,
    );
    has(
        &err("{containers: [{name: a, image: b, restartPolicy: Always}]}"),
        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
    );
}

#[test]
fn probes() {
    let probe = |field: &str, body: &str| {
        format!("{{containers: [{{name: a, image: b, ports: [{{containerPort: 80, name: http}}], {field}: {body}}}]}}")
    };
    has(
        &err(&probe("livenessProbe", "{exec: {command: [true]}, successThreshold: 2}")),
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
    );
    has(
        &err(&probe("startupProbe", "{exec: {command: [true]}, successThreshold: 3}")),
        "startupProbe.successThreshold: Invalid value: 3: must be 1",
    );
    assert_eq!(
        ok(&probe("readinessProbe", "{exec: {command: [true]}, successThreshold: 2}")).spec.containers[0]
            .readiness_probe
            .as_ref()
            .unwrap()
            .success_threshold,
        2
    );
    has(
        &err(&probe("livenessProbe", "{periodSeconds: 5}")),
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
    );
    has(
        &err(&probe("livenessProbe", "{exec: {command: [true]}, tcpSocket: {port: 80}}")),
        "livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    );
    let e = err(&probe(
        "livenessProbe",
        "{exec: {command: [true]}, failureThreshold: -1, periodSeconds: -2, initialDelaySeconds: -3}",
    ));
    has(&e, "livenessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 1");
    has(&e, "livenessProbe.periodSeconds: Invalid value: -2");
    has(&e, "livenessProbe.initialDelaySeconds: Invalid value: -3: must be greater than or equal to 0");
    has(
        &err(&probe("readinessProbe", "{exec: {command: [true]}, terminationGracePeriodSeconds: 5}")),
        "readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes",
    );
    ok(&probe("livenessProbe", "{httpGet: {port: http, scheme: HTTPS}, terminationGracePeriodSeconds: 5}"));
    ok(&probe("livenessProbe", "{grpc: {port: 9000}}"));
    // A name no containerPort has is accepted here; it is a probe error at run time
    // (docs/pod-lifecycle.md#probe-errors).
    ok(&probe("livenessProbe", "{httpGet: {port: metrics}}"));
    has(
        &err(&probe("livenessProbe", "{tcpSocket: {port: '80'}}")),
        r#"livenessProbe.tcpSocket.port: Invalid value: "80": must contain at least one letter (a-z)"#,
    );
    has(
        &err(&probe("livenessProbe", "{tcpSocket: {port: 70000}}")),
        "tcpSocket.port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    );
    has(
        &err(&probe("livenessProbe", "{httpGet: {port: 80, scheme: FTP}}")),
        r#"httpGet.scheme: Unsupported value: "FTP""#,
    );
}

#[test]
fn lifecycle_handlers() {
    let hook = |body: &str| {
        format!("{{terminationGracePeriodSeconds: 30, containers: [{{name: a, image: b, lifecycle: {body}}}]}}")
    };
    ok(&hook("{preStop: {sleep: {seconds: 30}}, postStart: {sleep: {seconds: 0}}}"));
    has(&err(&hook("{preStop: {sleep: {seconds: 31}}}")),
        "spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: 31: must be non-negative and less than terminationGracePeriodSeconds (30)");
    has(&err(&hook("{preStop: {sleep: {seconds: -1}}}")), "preStop.sleep.seconds: Invalid value: -1");
    has(&err(&hook("{postStart: {}}")), "lifecycle.postStart: Required value: must specify a handler type");
    has(
        &err(&hook("{postStart: {exec: {command: [a]}, sleep: {seconds: 1}}}")),
        "lifecycle.postStart.sleep: Forbidden: may not specify more than 1 handler type",
    );
    has(&err(&hook("{postStart: {exec: {}}}")), "lifecycle.postStart.exec.command: Required value");
    ok(&hook("{postStart: {tcpSocket: {port: 80}}}"));
    has(&err(&hook("{stopSignal: SIGUSR1}")), "lifecycle.stopSignal: Forbidden");
    ok("{os: {name: linux}, containers: [{name: a, image: b, lifecycle: {stopSignal: SIGUSR1}}]}");
    has(
        &err("{os: {name: linux}, containers: [{name: a, image: b, lifecycle: {stopSignal: BOGUS}}]}"),
        "lifecycle.stopSignal: Invalid value",
    );
    let e = err("{containers: [{name: a, image: b, lifecycle: {preStop: {httpGet: {port: 1.5}}}}]}");
    has(&e, "pod.yaml: spec.containers[0].lifecycle.preStop.httpGet.port: invalid type: floating point `1.5`, expected a port number or a port name");
    has(
        &err("{containers: [{name: a, image: b, lifecycle: {preStop: {httpGet: {port: 99999999999}}}}]}"),
        "spec.containers[0].lifecycle.preStop.httpGet.port: invalid value 99999999999",
    );
}

#[test]
fn env_ports_and_resources() {
    let c = |body: &str| format!("{{containers: [{{name: a, image: b, {body}}}]}}");
    has(
        &err(&c("envFrom: [{configMapRef: {name: x}}]")),
        "spec.containers[0].envFrom: Forbidden: not supported by runp",
    );
    has(
        &err(&c("env: [{name: A, valueFrom: {configMapKeyRef: {name: x, key: y}}}]")),
        "spec.containers[0].env[0].valueFrom.configMapKeyRef: Forbidden: not supported by runp",
    );
    has(
        &err(&c("env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}]")),
        r#"env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels""#,
    );
    ok(&c("env: [{name: A, valueFrom: {fieldRef: {fieldPath: status.podIP}}}, {name: my.var-1, value: x}]"));
    has(
        &err(&c("env: [{name: A=B, value: x}]")),
        r#"env[0].name: Invalid value: "A=B": a valid environment variable name"#,
    );
    has(
        &err(&c("env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]")),
        "env[0].valueFrom: Invalid value",
    );
    has(&err(&c("ports: [{containerPort: 0}]")), "spec.containers[0].ports[0].containerPort: Required value");
    has(
        &err(&c("ports: [{containerPort: 65536}]")),
        "ports[0].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive",
    );
    has(
        &err(&c("ports: [{containerPort: 80, name: HTTP}]")),
        r#"ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric"#,
    );
    has(
        &err(&c("ports: [{containerPort: 80, name: web, protocol: ICMP}]")),
        r#"ports[0].protocol: Unsupported value: "ICMP""#,
    );
    let e = err(&c("resources: {requests: {cpu: '2'}, limits: {cpu: '1', nvidia.com/gpu: 1}}"));
    has(
        &e,
        r#"spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1"#,
    );
    has(&e, r#"resources.limits[nvidia.com/gpu]: Unsupported value: "nvidia.com/gpu""#);
    has(
        &err(&c("resources: {requests: {memory: 64MB}}")),
        r#"spec.containers[0].resources.requests.memory: invalid value "64MB": quantities must match"#,
    );
    ok(&c("resources: {requests: {cpu: 0.5, memory: 1Gi}, limits: {cpu: 1, memory: 1Gi}}"));
}

#[test]
fn metadata_rules() {
    let e = parse(&format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: Bad_Name, labels: {{'a b': x, ok: 'not ok'}}}}\nspec: {{containers: [{C}]}}"), "m")
        .unwrap_err();
    let inv = e.downcast_ref::<InvalidPod>().expect("typed error");
    let paths: Vec<&str> = inv.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["metadata.name", "metadata.labels", "metadata.labels"], "{e}");
    has(&e.to_string(), r#"m: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#);
    has(
        &parse(&format!("kind: Pod\nmetadata: {{name: a}}\nspec: {{containers: [{C}]}}"), "m").unwrap_err().to_string(),
        "m: apiVersion: Required value",
    );
    has(
        &parse(&format!("apiVersion: v1\nmetadata: {{name: a}}\nspec: {{containers: [{C}]}}"), "m")
            .unwrap_err()
            .to_string(),
        "m: kind: Required value",
    );
    has(
        &parse(&format!("apiVersion: v1\nkind: Pod\nspec: {{containers: [{C}]}}"), "m").unwrap_err().to_string(),
        "metadata.name: Required value",
    );
}

#[test]
fn hostile_input_never_panics() {
    let deep_seq = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let deep_map = "a: ".to_string() + &"{a: ".repeat(2000) + &"}".repeat(2000);
    let deep_affinity = manifest(&format!("{{containers: [{C}], affinity: {}1{}}}", "[".repeat(120), "]".repeat(120)));
    let huge_name = manifest(&format!("{{containers: [{{name: {}, image: b}}]}}", "a".repeat(1 << 20)));
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nspec: {containers: *g}\n";
    let inputs: Vec<String> = vec![
        String::new(), " ".into(), "null".into(), "---".into(), "--- a\n--- b\n".into(), "{".into(), "{}".into(), "[]".into(),
        "\u{feff}{\"kind\": 1}".into(), "kind: Pod\n\tbad".into(), "kind: [Pod]\napiVersion: {}\n".into(), "*unknown".into(),
        "!!binary abc".into(), "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, image: b, ports: [{containerPort: -2147483648, hostPort: 2147483647}]}], activeDeadlineSeconds: -9223372036854775808, terminationGracePeriodSeconds: -9223372036854775808}\nmetadata: {name: a}".into(),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: b, lifecycle: {preStop: {sleep: {seconds: 9223372036854775807}}}, resources: {limits: {cpu: 1e1000}}}]}".into(),
        deep_seq.clone(), format!("{{\"a\": {deep_seq}}}"), deep_map, deep_affinity, huge_name, bomb.to_string(),
        manifest(&format!("{{containers: [{C}], affinity: {}1{}}}", "{a: ".repeat(200), "}".repeat(200))),
    ];
    let mut inputs = inputs;
    let mut seed: u64 = 0x1234_5678;
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        ":",
        " ",
        "\n",
        "- ",
        "spec",
        "containers",
        "name",
        "a",
        "'",
        "\"",
        "&x ",
        "*x",
        "1",
        ",",
        "#",
        "\t",
    ];
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..(seed % 40) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        inputs.push(s);
    }
    for text in &inputs {
        for r in [parse(text, "f"), parse_any(text, "f")] {
            if let Err(e) = r {
                let msg = e.to_string();
                assert!(!msg.contains('\n') && msg.starts_with("f: ") && msg.len() < 4096, "{msg:.300}");
            }
        }
    }
}
