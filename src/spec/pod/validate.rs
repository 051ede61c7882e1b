//! Pod validation like the API server's (`ValidatePodCreate`), limited to runp's subset. Runs
//! after defaulting; collects every error, each naming its field path as written in the
//! manifest (`spec.containers[0].lifecycle.preStop.sleep.seconds`).

use super::{
    Action, Container, ContainerPort, EnvVar, IntOrString, LifecycleHandler, MountPropagation, Pod, PodSpec, Probe,
    RestartPolicy, SeccompProfile, SeccompProfileType, Volume,
};
use crate::spec::field_error::{self as names, FieldError};
use std::collections::{BTreeSet, HashSet};

/// Where the validated parts sit in the document: `metadata`/`spec` for a Pod,
/// `spec.template.metadata`/`spec.template.spec` for a Deployment's pod template.
#[derive(Debug, Clone, Copy)]
pub struct Paths<'a> {
    pub metadata: &'a str,
    pub spec: &'a str,
}

impl Paths<'static> {
    pub const POD: Paths<'static> = Paths { metadata: "metadata", spec: "spec" };
    pub const TEMPLATE: Paths<'static> = Paths { metadata: "spec.template.metadata", spec: "spec.template.spec" };
}

/// `env[].valueFrom.fieldRef.fieldPath` values runp can fill in.
pub const SUPPORTED_FIELD_PATHS: &[&str] =
    &["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "status.podIP", "status.hostIP"];

/// Resource names runp understands in `resources.limits` and `resources.requests`.
pub const SUPPORTED_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];

const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

struct Ctx<'a> {
    errs: Vec<FieldError>,
    volumes: HashSet<&'a str>,
    grace: i64,
    os_set: bool,
}

impl Ctx<'_> {
    fn push(&mut self, e: FieldError) {
        self.errs.push(e);
    }
    fn name_format(&mut self, path: String, value: &str, problems: Vec<String>) {
        for p in problems {
            self.push(FieldError::invalid(path.clone(), value, p));
        }
    }
}

/// Every validation error of a defaulted pod; empty when it is valid.
pub fn validate(pod: &Pod, paths: Paths<'_>) -> Vec<FieldError> {
    let spec = &pod.spec;
    let mut cx = Ctx {
        errs: Vec::new(),
        volumes: spec.volumes.iter().map(|v| v.name.as_str()).collect(),
        grace: spec.termination_grace_period_seconds,
        os_set: spec.os.is_some(),
    };
    metadata(&mut cx, pod, paths.metadata);
    pod_spec(&mut cx, spec, paths.spec);
    cx.errs
}

fn metadata(cx: &mut Ctx<'_>, pod: &Pod, meta_path: &str) {
    let m = &pod.metadata;
    if m.name.is_empty() {
        cx.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else {
        cx.name_format("metadata.name".into(), &m.name, names::dns1123_subdomain(&m.name));
    }
    cx.name_format("metadata.namespace".into(), &m.namespace, names::dns1123_label(&m.namespace));
    for (k, v) in &m.labels {
        cx.name_format(format!("{meta_path}.labels"), k, names::qualified_name(k));
        cx.name_format(format!("{meta_path}.labels"), v, names::label_value(v));
    }
    let mut total = 0usize;
    for (k, v) in &m.annotations {
        cx.name_format(format!("{meta_path}.annotations"), k, names::qualified_name(&k.to_ascii_lowercase()));
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > MAX_ANNOTATIONS_BYTES {
        cx.push(FieldError::too_long(format!("{meta_path}.annotations"), MAX_ANNOTATIONS_BYTES));
    }
}

fn pod_spec<'a>(cx: &mut Ctx<'a>, spec: &'a PodSpec, sp: &str) {
    if spec.containers.is_empty() {
        cx.push(FieldError::required(format!("{sp}.containers"), ""));
    }
    let mut seen = HashSet::new();
    let init = spec.init_containers.iter().enumerate().map(|(i, c)| (format!("{sp}.initContainers[{i}]"), c, true));
    let app = spec.containers.iter().enumerate().map(|(i, c)| (format!("{sp}.containers[{i}]"), c, false));
    let mut host_ports = HashSet::new();
    for (path, c, is_init) in init.chain(app) {
        if c.name.is_empty() {
            cx.push(FieldError::required(format!("{path}.name"), ""));
        } else {
            cx.name_format(format!("{path}.name"), &c.name, names::dns1123_label(&c.name));
            if !seen.insert(c.name.as_str()) {
                cx.push(FieldError::duplicate(format!("{path}.name"), &c.name));
            }
        }
        for (i, p) in c.ports.iter().enumerate() {
            let hp = p.host_port.unwrap_or(0);
            if hp != 0 && !host_ports.insert((hp, p.protocol, p.host_ip.clone().unwrap_or_default())) {
                cx.push(FieldError::duplicate(format!("{path}.ports[{i}].hostPort"), &format!("{hp}/{}", p.protocol)));
            }
        }
        container(cx, c, &path, is_init);
    }
    if let Some(d) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&d) {
            cx.push(FieldError::invalid(
                format!("{sp}.activeDeadlineSeconds"),
                &d,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    if spec.termination_grace_period_seconds < 0 {
        let g = spec.termination_grace_period_seconds;
        cx.push(FieldError::invalid(
            format!("{sp}.terminationGracePeriodSeconds"),
            &g,
            "must be greater than or equal to 0",
        ));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid {
        cx.push(FieldError::invalid(
            format!("{sp}.shareProcessNamespace"),
            &true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    for (field, v) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = v {
            cx.name_format(format!("{sp}.{field}"), v, names::dns1123_label(v));
        }
    }
    dns(cx, spec, sp);
    if let Some(sc) = &spec.security_context {
        let p = format!("{sp}.securityContext");
        for (field, v) in [("runAsUser", sc.run_as_user), ("runAsGroup", sc.run_as_group), ("fsGroup", sc.fs_group)] {
            id_range(cx, &format!("{p}.{field}"), v);
        }
        for (i, g) in sc.supplemental_groups.iter().enumerate() {
            id_range(cx, &format!("{p}.supplementalGroups[{i}]"), Some(*g));
        }
        for (i, s) in sc.sysctls.iter().enumerate() {
            if s.name.is_empty() {
                cx.push(FieldError::required(format!("{p}.sysctls[{i}].name"), ""));
            }
        }
        seccomp(cx, &p, &sc.seccomp_profile);
    }
    let mut volume_names = HashSet::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        volume(cx, v, &format!("{sp}.volumes[{i}]"), &mut volume_names);
    }
    for (i, g) in spec.readiness_gates.iter().enumerate() {
        let t = &g.condition_type;
        cx.name_format(format!("{sp}.readinessGates[{i}].conditionType"), t, names::qualified_name(t));
    }
    if let Some(os) = &spec.os {
        if os.name != "linux" {
            cx.push(FieldError::not_supported(format!("{sp}.os.name"), &os.name, &["linux"]));
        }
    }
}

fn dns(cx: &mut Ctx<'_>, spec: &PodSpec, sp: &str) {
    let none = spec.dns_policy == super::DnsPolicy::None;
    match &spec.dns_config {
        None if none => cx
            .push(FieldError::required(format!("{sp}.dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")),
        None => {}
        Some(c) => {
            if none && c.nameservers.is_empty() {
                cx.push(FieldError::required(
                    format!("{sp}.dnsConfig.nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
            }
            if c.nameservers.len() > 3 {
                cx.push(FieldError::invalid(
                    format!("{sp}.dnsConfig.nameservers"),
                    &c.nameservers.join(" "),
                    "must not have more than 3 nameservers",
                ));
            }
            for (i, ns) in c.nameservers.iter().enumerate() {
                if ns.parse::<std::net::IpAddr>().is_err() {
                    cx.push(FieldError::invalid(
                        format!("{sp}.dnsConfig.nameservers[{i}]"),
                        ns,
                        "must be a valid IP address",
                    ));
                }
            }
            if c.searches.len() > 32 {
                cx.push(FieldError::invalid(
                    format!("{sp}.dnsConfig.searches"),
                    &c.searches.join(" "),
                    "must not have more than 32 search paths",
                ));
            }
            for (i, o) in c.options.iter().enumerate() {
                if o.name.is_empty() {
                    cx.push(FieldError::required(format!("{sp}.dnsConfig.options[{i}].name"), ""));
                }
            }
        }
    }
}

fn id_range(cx: &mut Ctx<'_>, path: &str, v: Option<i64>) {
    if let Some(v) = v {
        if !(0..=i64::from(i32::MAX)).contains(&v) {
            cx.push(FieldError::invalid(path, &v, "must be between 0 and 2147483647, inclusive"));
        }
    }
}

fn seccomp(cx: &mut Ctx<'_>, parent: &str, p: &Option<SeccompProfile>) {
    let Some(p) = p else { return };
    let path = format!("{parent}.seccompProfile.localhostProfile");
    match (p.type_, &p.localhost_profile) {
        (SeccompProfileType::Localhost, None) => {
            cx.push(FieldError::required(path, "must be set when seccomp type is Localhost"))
        }
        (SeccompProfileType::Localhost, Some(_)) | (_, None) => {}
        (_, Some(_)) => cx.push(FieldError::forbidden(path, "can only be set when seccomp type is Localhost")),
    }
}

fn volume<'a>(cx: &mut Ctx<'_>, v: &'a Volume, path: &str, seen: &mut HashSet<&'a str>) {
    if v.name.is_empty() {
        cx.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        cx.name_format(format!("{path}.name"), &v.name, names::dns1123_label(&v.name));
        if !seen.insert(v.name.as_str()) {
            cx.push(FieldError::duplicate(format!("{path}.name"), &v.name));
        }
    }
    match (&v.empty_dir, &v.host_path) {
        (None, None) => cx.push(FieldError::required(path, "must specify a volume type")),
        (Some(_), Some(_)) => {
            cx.push(FieldError::forbidden(format!("{path}.hostPath"), "may not specify more than 1 volume type"))
        }
        _ => {}
    }
    if let Some(size) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
        if size.is_negative() {
            cx.push(FieldError::invalid(
                format!("{path}.emptyDir.sizeLimit"),
                &size.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(h) = &v.host_path {
        if h.path.is_empty() {
            cx.push(FieldError::required(format!("{path}.hostPath.path"), ""));
        } else if h.path.split('/').any(|c| c == "..") {
            cx.push(FieldError::invalid(format!("{path}.hostPath.path"), &h.path, "must not contain '..'"));
        }
    }
}

fn container(cx: &mut Ctx<'_>, c: &Container, path: &str, is_init: bool) {
    if c.image.trim().is_empty() {
        cx.push(FieldError::required(format!("{path}.image"), ""));
    }
    match (is_init, c.restart_policy) {
        (true, Some(p)) if p != RestartPolicy::Always => {
            cx.push(FieldError::not_supported(format!("{path}.restartPolicy"), p.as_str(), &["Always"]));
        }
        (false, Some(_)) => {
            cx.push(FieldError::forbidden(format!("{path}.restartPolicy"), "may not be set for non-init containers"))
        }
        _ => {}
    }
    let regular_init = is_init && !c.is_sidecar();
    if let Some(l) = &c.lifecycle {
        let lp = format!("{path}.lifecycle");
        if regular_init {
            cx.push(FieldError::forbidden(lp, "may not be set for init containers without restartPolicy=Always"));
        } else {
            for (field, h) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
                if let Some(h) = h {
                    handler(cx, h, &format!("{lp}.{field}"), &c.ports);
                }
            }
            if let Some(sig) = &l.stop_signal {
                if !cx.os_set {
                    cx.push(FieldError::forbidden(
                        format!("{lp}.stopSignal"),
                        "may not be set for containers with empty `spec.os.name`",
                    ));
                } else if !sig.starts_with("SIG") || crate::spec::signal::parse(sig).is_err() {
                    cx.push(FieldError::invalid(
                        format!("{lp}.stopSignal"),
                        sig,
                        "must be a signal name such as SIGTERM",
                    ));
                }
            }
        }
    }
    for (field, p) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(p) = p else { continue };
        let pp = format!("{path}.{field}");
        if regular_init {
            cx.push(FieldError::forbidden(pp, "may not be set for init containers without restartPolicy=Always"));
        } else {
            probe(cx, p, &pp, field, &c.ports);
        }
    }
    ports(cx, &c.ports, path);
    env(cx, &c.env, path);
    if !c.env_from.is_empty() {
        cx.push(FieldError::forbidden(
            format!("{path}.envFrom"),
            "not supported by runp (there are no ConfigMaps or Secrets)",
        ));
    }
    mounts(cx, c, path);
    resources(cx, c, path);
    if let Some(sc) = &c.security_context {
        let p = format!("{path}.securityContext");
        id_range(cx, &format!("{p}.runAsUser"), sc.run_as_user);
        id_range(cx, &format!("{p}.runAsGroup"), sc.run_as_group);
        seccomp(cx, &p, &sc.seccomp_profile);
    }
}

fn ports(cx: &mut Ctx<'_>, ports: &[ContainerPort], path: &str) {
    let mut names_seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        if p.container_port == 0 {
            cx.push(FieldError::required(format!("{pp}.containerPort"), ""));
        } else if !(1..=65535).contains(&p.container_port) {
            cx.push(FieldError::invalid(
                format!("{pp}.containerPort"),
                &p.container_port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        if let Some(hp) = p.host_port.filter(|hp| *hp != 0 && !(1..=65535).contains(hp)) {
            cx.push(FieldError::invalid(format!("{pp}.hostPort"), &hp, "must be between 1 and 65535, inclusive"));
        }
        if let Some(name) = &p.name {
            cx.name_format(format!("{pp}.name"), name, names::iana_svc_name(name));
            if !names_seen.insert(name.as_str()) {
                cx.push(FieldError::duplicate(format!("{pp}.name"), name));
            }
        }
        if let Some(ip) = p.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
            if ip.parse::<std::net::IpAddr>().is_err() {
                cx.push(FieldError::invalid(format!("{pp}.hostIP"), ip, "must be a valid IP address"));
            }
        }
    }
}

/// A probe or hook port: a number in range, or the name of one of the container's ports.
fn port_ref(cx: &mut Ctx<'_>, port: &IntOrString, path: String, _ports: &[ContainerPort]) {
    match port {
        IntOrString::Int(n) if !(1..=65535).contains(n) => {
            cx.push(FieldError::invalid(path, n, "must be between 1 and 65535, inclusive"));
        }
        IntOrString::Int(_) => {}
        IntOrString::String(name) => {
            // Like the API server, only the format: a name that matches no containerPort is
            // an error when the probe or hook runs: the probe "errored", nothing is killed
            // (docs/pod-lifecycle.md#probe-errors).
            let problems = names::iana_svc_name(name);
            if !problems.is_empty() {
                cx.name_format(path, name, problems);
            }
        }
    }
}

/// Exactly one action, and each action's own rules (shared by hooks and probes).
fn actions(cx: &mut Ctx<'_>, path: &str, actions: &[(&str, Action<'_>)], ports: &[ContainerPort]) {
    match actions {
        [] => cx.push(FieldError::required(path, "must specify a handler type")),
        [_, (second, _), ..] => {
            cx.push(FieldError::forbidden(format!("{path}.{second}"), "may not specify more than 1 handler type"))
        }
        [_] => {}
    }
    for (_, action) in actions {
        match action {
            Action::Exec(e) if e.command.is_empty() => {
                cx.push(FieldError::required(format!("{path}.exec.command"), ""))
            }
            Action::Exec(_) => {}
            Action::HttpGet(g) => {
                port_ref(cx, &g.port, format!("{path}.httpGet.port"), ports);
                headers(cx, g, path);
            }
            Action::TcpSocket(t) => port_ref(cx, &t.port, format!("{path}.tcpSocket.port"), ports),
            Action::Grpc(g) if !(1..=65535).contains(&g.port) => {
                cx.push(FieldError::invalid(
                    format!("{path}.grpc.port"),
                    &g.port,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            Action::Grpc(_) => {}
            Action::Sleep(s) if s.seconds < 0 || s.seconds > cx.grace => {
                let detail = format!("must be non-negative and less than terminationGracePeriodSeconds ({})", cx.grace);
                cx.push(FieldError::invalid(format!("{path}.sleep.seconds"), &s.seconds, detail));
            }
            Action::Sleep(_) => {}
        }
    }
}

fn handler(cx: &mut Ctx<'_>, h: &LifecycleHandler, path: &str, ports: &[ContainerPort]) {
    actions(cx, path, &h.actions(), ports);
}

fn headers(cx: &mut Ctx<'_>, g: &super::HttpGetAction, path: &str) {
    for (i, hd) in g.http_headers.iter().enumerate() {
        let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
        if hd.name.is_empty() || !hd.name.bytes().all(token) {
            cx.push(FieldError::invalid(
                format!("{path}.httpGet.httpHeaders[{i}].name"),
                &hd.name,
                "a valid HTTP header must consist of alphanumeric characters, '-' or other token characters",
            ));
        }
    }
}

fn probe(cx: &mut Ctx<'_>, p: &Probe, path: &str, which: &str, ports: &[ContainerPort]) {
    actions(cx, path, &p.actions(), ports);
    if p.initial_delay_seconds < 0 {
        cx.push(FieldError::invalid(
            format!("{path}.initialDelaySeconds"),
            &p.initial_delay_seconds,
            "must be greater than or equal to 0",
        ));
    }
    for (field, v) in [
        ("timeoutSeconds", p.timeout_seconds),
        ("periodSeconds", p.period_seconds),
        ("successThreshold", p.success_threshold),
        ("failureThreshold", p.failure_threshold),
    ] {
        if v < 1 {
            cx.push(FieldError::invalid(format!("{path}.{field}"), &v, "must be greater than or equal to 1"));
        }
    }
    if which != "readinessProbe" && p.success_threshold != 1 && p.success_threshold >= 1 {
        cx.push(FieldError::invalid(format!("{path}.successThreshold"), &p.success_threshold, "must be 1"));
    }
    if let Some(g) = p.termination_grace_period_seconds {
        let tp = format!("{path}.terminationGracePeriodSeconds");
        if which == "readinessProbe" {
            cx.push(FieldError::invalid(tp, &g, "must not be set for readinessProbes"));
        } else if g < 1 {
            cx.push(FieldError::invalid(tp, &g, "must be greater than 0"));
        }
    }
}

fn env(cx: &mut Ctx<'_>, env: &[EnvVar], path: &str) {
    for (i, e) in env.iter().enumerate() {
        let ep = format!("{path}.env[{i}]");
        if e.name.is_empty() {
            cx.push(FieldError::required(format!("{ep}.name"), ""));
        } else {
            cx.name_format(format!("{ep}.name"), &e.name, names::env_var_name(&e.name));
        }
        let Some(from) = &e.value_from else { continue };
        let vp = format!("{ep}.valueFrom");
        if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
            cx.push(FieldError::invalid(vp.clone(), "", "may not be specified when `value` is not empty"));
        }
        let mut sources = 0;
        if let Some(f) = &from.field_ref {
            sources += 1;
            if let Some(v) = f.api_version.as_deref().filter(|v| *v != "v1") {
                cx.push(FieldError::not_supported(format!("{vp}.fieldRef.apiVersion"), v, &["v1"]));
            }
            if !SUPPORTED_FIELD_PATHS.contains(&f.field_path.as_str()) {
                cx.push(FieldError::not_supported(
                    format!("{vp}.fieldRef.fieldPath"),
                    &f.field_path,
                    SUPPORTED_FIELD_PATHS,
                ));
            }
        }
        for (field, set) in [
            ("resourceFieldRef", from.resource_field_ref.is_some()),
            ("configMapKeyRef", from.config_map_key_ref.is_some()),
            ("secretKeyRef", from.secret_key_ref.is_some()),
            ("fileKeyRef", from.file_key_ref.is_some()),
        ] {
            if set {
                sources += 1;
                cx.push(FieldError::forbidden(format!("{vp}.{field}"), "not supported by runp (only fieldRef is)"));
            }
        }
        match sources {
            0 => cx.push(FieldError::invalid(
                vp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )),
            1 => {}
            _ => cx.push(FieldError::invalid(vp, "", "may not have more than one field specified at a time")),
        }
    }
}

fn mounts(cx: &mut Ctx<'_>, c: &Container, path: &str) {
    let mut paths = HashSet::new();
    let privileged = c.security_context.as_ref().and_then(|s| s.privileged).unwrap_or(false);
    for (i, m) in c.volume_mounts.iter().enumerate() {
        let mp = format!("{path}.volumeMounts[{i}]");
        if m.name.is_empty() {
            cx.push(FieldError::required(format!("{mp}.name"), ""));
        } else if !cx.volumes.contains(m.name.as_str()) {
            cx.push(FieldError::not_found(format!("{mp}.name"), &m.name));
        }
        if m.mount_path.is_empty() {
            cx.push(FieldError::required(format!("{mp}.mountPath"), ""));
        } else {
            if !m.mount_path.starts_with('/') {
                cx.push(FieldError::invalid(format!("{mp}.mountPath"), &m.mount_path, "must be an absolute path"));
            }
            if !paths.insert(m.mount_path.trim_end_matches('/')) {
                cx.push(FieldError::invalid(format!("{mp}.mountPath"), &m.mount_path, "must be unique"));
            }
        }
        if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if sub.starts_with('/') {
                cx.push(FieldError::invalid(format!("{mp}.subPath"), sub, "must be a relative path"));
            }
            if sub.split('/').any(|part| part == "..") {
                cx.push(FieldError::invalid(format!("{mp}.subPath"), sub, "must not contain '..'"));
            }
        }
        if m.mount_propagation == Some(MountPropagation::Bidirectional) && !privileged {
            cx.push(FieldError::forbidden(
                format!("{mp}.mountPropagation"),
                "Bidirectional mount propagation is available only to privileged containers",
            ));
        }
    }
}

fn resources(cx: &mut Ctx<'_>, c: &Container, path: &str) {
    let r = &c.resources;
    for (field, map) in [("limits", &r.limits), ("requests", &r.requests)] {
        for (name, q) in map {
            let rp = format!("{path}.resources.{field}[{name}]");
            if !SUPPORTED_RESOURCES.contains(&name.as_str()) {
                cx.push(FieldError::not_supported(rp.clone(), name, SUPPORTED_RESOURCES));
            }
            if q.is_negative() {
                cx.push(FieldError::invalid(rp, &q.to_string(), "must be greater than or equal to 0"));
            }
        }
    }
    let names: BTreeSet<&String> = r.requests.keys().collect();
    for name in names {
        if let (Some(req), Some(lim)) = (r.requests.get(name), r.limits.get(name)) {
            if req > lim {
                cx.push(FieldError::invalid(
                    format!("{path}.resources.requests[{name}]"),
                    &req.to_string(),
                    format!("must be less than or equal to {name} limit of {lim}"),
                ));
            }
        }
    }
}
