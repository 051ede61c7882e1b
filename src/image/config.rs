//! The image config (what `docker inspect` shows under `Config`, plus `rootfs` and `history`)
//! and the kubelet's rules for combining it with a container's `command`, `args` and `env`.
//!
//! The execution fields use the capitalized names the OCI image spec took from Docker (`Env`,
//! `Cmd`, `WorkingDir`...). Unknown fields (Docker's `container_config`, `Healthcheck`,
//! `OnBuild`...) are ignored, and `null` reads as absent, as Docker writes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// The largest config blob read: runp's own bound (configs are a few KiB; long histories
/// reach a few hundred).
pub const MAX_CONFIG_SIZE: usize = 8 << 20;

/// Why a config blob was refused (one line, naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// An image config blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ExecConfig>,
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<History>>,
}

/// How to run the image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExecConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
}

/// The `{}` values of `ExposedPorts` and `Volumes` (whatever they hold is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The layers' uncompressed digests, bottom first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

/// One build step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

impl ImageConfig {
    /// Parses a config blob; errors name the field (`config.Env[2]: ...`).
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ConfigError> {
        if bytes.len() > MAX_CONFIG_SIZE {
            return Err(ConfigError(format!(
                "image config is {} bytes, more than the {MAX_CONFIG_SIZE} accepted",
                bytes.len()
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let c: ImageConfig =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ConfigError(format!("image config: {e}")))?;
        if c.rootfs.kind != "layers" {
            return Err(ConfigError(format!("image config: rootfs.type: {:?}, expected \"layers\"", c.rootfs.kind)));
        }
        Ok(c)
    }

    /// The execution config, empty when absent.
    pub fn exec(&self) -> ExecConfig {
        self.config.clone().unwrap_or_default()
    }

    /// Exposed ports (`80/tcp`), sorted.
    pub fn exposed_ports(&self) -> Vec<String> {
        self.config
            .as_ref()
            .and_then(|c| c.exposed_ports.as_ref())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Volume paths, sorted.
    pub fn volumes(&self) -> Vec<String> {
        self.config.as_ref().and_then(|c| c.volumes.as_ref()).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }
}

/// Neither the container nor the image says what to run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no command specified: the container has no command or args and the image no Entrypoint or Cmd")]
pub struct NoCommand;

/// The process a container runs, by the kubelet's (CRI's) rules:
/// - no `command` and no `args`: the image's Entrypoint + Cmd;
/// - `args` only: the image's Entrypoint + `args` (the image's Cmd is dropped);
/// - `command`: `command` + `args`, nothing from the image.
///
/// An image Entrypoint of exactly `[""]` means none (Docker's way to reset it).
pub fn effective_command(
    image_entrypoint: Option<&[String]>,
    image_cmd: Option<&[String]>,
    container_command: &[String],
    container_args: &[String],
) -> Result<Vec<String>, NoCommand> {
    let mut out: Vec<String> = Vec::new();
    if container_command.is_empty() {
        match image_entrypoint {
            Some([only]) if only.is_empty() => {}
            Some(ep) => out.extend_from_slice(ep),
            None => {}
        }
        if container_args.is_empty() {
            out.extend_from_slice(image_cmd.unwrap_or_default());
        } else {
            out.extend_from_slice(container_args);
        }
    } else {
        out.extend_from_slice(container_command);
        out.extend_from_slice(container_args);
    }
    if out.is_empty() {
        return Err(NoCommand);
    }
    Ok(out)
}

/// The environment a container gets: the image's `KEY=value` entries first, in order, then the
/// container's; a container variable of a name the image already sets replaces it in place, a
/// new one is appended (a later one of the same name replaces an earlier). Image entries
/// without `=` are kept as they are.
pub fn merge_env(image_env: &[String], container_env: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = image_env.to_vec();
    let key = |e: &str| e.split_once('=').map_or(e, |(k, _)| k).to_string();
    let mut position: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in out.iter().enumerate() {
        position.insert(key(e), i);
    }
    for (k, v) in container_env {
        let entry = format!("{k}={v}");
        match position.get(k) {
            Some(&i) => out[i] = entry,
            None => {
                position.insert(k.clone(), out.len());
                out.push(entry);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const DOCKER_CONFIG: &str = r##"{
      "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
      "docker_version": "24.0.0", "container": "abc",
      "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]},
      "config": {
        "Hostname": "", "User": "nginx:nginx", "AttachStdin": false,
        "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/bin", "NGINX_VERSION=1.25"],
        "Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"],
        "Volumes": {"/var/cache/nginx": {}}, "WorkingDir": "/srv", "OnBuild": null,
        "Labels": {"maintainer": "x"}, "StopSignal": "SIGQUIT", "Healthcheck": {"Test": ["NONE"]}
      },
      "rootfs": {"type": "layers", "diff_ids": [
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"]},
      "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file", "empty_layer": false},
                  {"created_by": "CMD", "empty_layer": true}]
    }"##;

    #[test]
    fn reads_a_docker_config() {
        let c = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        let e = c.exec();
        assert_eq!(e.user.as_deref(), Some("nginx:nginx"));
        assert_eq!(e.env.unwrap(), v(&["PATH=/usr/local/sbin:/usr/bin", "NGINX_VERSION=1.25"]));
        assert_eq!(e.entrypoint.unwrap(), v(&["/docker-entrypoint.sh"]));
        assert_eq!(e.cmd.unwrap(), v(&["nginx", "-g", "daemon off;"]));
        assert_eq!(e.working_dir.as_deref(), Some("/srv"));
        assert_eq!(e.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(e.labels.unwrap()["maintainer"], "x");
        assert_eq!(c.exposed_ports(), v(&["443/tcp", "80/tcp"]));
        assert_eq!(c.volumes(), v(&["/var/cache/nginx"]));
        assert_eq!(c.rootfs.diff_ids.len(), 2);
        assert_eq!(c.history.as_ref().unwrap()[1].empty_layer, Some(true));
        assert_eq!((c.architecture.as_str(), c.os.as_str()), ("amd64", "linux"));
    }

    #[test]
    fn nulls_and_missing_config_are_absent() {
        let c = ImageConfig::parse(br#"{"architecture":"amd64","os":"linux","config":{"Env":null,"Cmd":null,"Entrypoint":null},"rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap();
        assert_eq!(c.exec(), ExecConfig::default());
        let c = ImageConfig::parse(br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap();
        assert!(c.config.is_none() && c.exposed_ports().is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let e = ImageConfig::parse(br#"{"config":{"Env":["A=1",2]},"rootfs":{"type":"layers","diff_ids":[]}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("image config: config.Env[1]:"), "{e}");
        let e =
            ImageConfig::parse(br#"{"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#).unwrap_err().to_string();
        assert!(e.starts_with("image config: rootfs.diff_ids[0]: invalid digest"), "{e}");
        let e = ImageConfig::parse(br#"{"rootfs":{"type":"tarballs","diff_ids":[]}}"#).unwrap_err().to_string();
        assert!(e.contains("rootfs.type"), "{e}");
        assert!(ImageConfig::parse(br#"{}"#).unwrap_err().to_string().contains("rootfs"));
        assert!(ImageConfig::parse(&vec![b' '; MAX_CONFIG_SIZE + 1]).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn serializes_with_the_specs_names() {
        let c = ImageConfig::parse(DOCKER_CONFIG.as_bytes()).unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains(r#""Entrypoint":["/docker-entrypoint.sh"]"#) && j.contains(r#""WorkingDir":"/srv""#), "{j}");
        assert!(j.contains(r#""diff_ids":["sha256:e3b0"#), "{j}");
    }

    #[test]
    fn command_rules_are_the_kubelets() {
        let ep = v(&["/entry"]);
        let cmd = v(&["serve", "--port=80"]);
        let none: Vec<String> = vec![];
        // Nothing given: Entrypoint + Cmd.
        assert_eq!(
            effective_command(Some(&ep), Some(&cmd), &none, &none).unwrap(),
            v(&["/entry", "serve", "--port=80"])
        );
        // Args only: Entrypoint + args, image Cmd dropped.
        assert_eq!(effective_command(Some(&ep), Some(&cmd), &none, &v(&["x"])).unwrap(), v(&["/entry", "x"]));
        // Command: command + args, nothing from the image.
        assert_eq!(effective_command(Some(&ep), Some(&cmd), &v(&["/bin/sh"]), &none).unwrap(), v(&["/bin/sh"]));
        assert_eq!(
            effective_command(Some(&ep), Some(&cmd), &v(&["/bin/sh", "-c"]), &v(&["echo"])).unwrap(),
            v(&["/bin/sh", "-c", "echo"])
        );
        // No Entrypoint: Cmd alone, or args alone.
        assert_eq!(effective_command(None, Some(&cmd), &none, &none).unwrap(), cmd);
        assert_eq!(effective_command(None, Some(&cmd), &none, &v(&["a"])).unwrap(), v(&["a"]));
        // Entrypoint [""] is no entrypoint.
        assert_eq!(effective_command(Some(&v(&[""])), Some(&cmd), &none, &none).unwrap(), cmd);
        // Nothing anywhere.
        assert_eq!(effective_command(None, None, &none, &none), Err(NoCommand));
        assert_eq!(effective_command(Some(&v(&[""])), Some(&[]), &none, &none), Err(NoCommand));
    }

    #[test]
    fn env_merge() {
        let image = v(&["PATH=/usr/bin", "LANG=C", "EMPTY=", "BARE"]);
        let pod = vec![
            ("LANG".to_string(), "en_US.UTF-8".to_string()),
            ("NEW".to_string(), "1".to_string()),
            ("NEW".to_string(), "2".to_string()),
            ("BARE".to_string(), "x".to_string()),
        ];
        assert_eq!(merge_env(&image, &pod), v(&["PATH=/usr/bin", "LANG=en_US.UTF-8", "EMPTY=", "BARE=x", "NEW=2"]));
        assert_eq!(merge_env(&[], &[]), Vec::<String>::new());
        assert_eq!(merge_env(&image, &[]), image);
    }
}
