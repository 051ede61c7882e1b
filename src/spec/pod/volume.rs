//! Pod volumes: `emptyDir` and `hostPath`. Every other Kubernetes volume type is recognised
//! by name and rejected with "volume type X is not supported" at its path.

use super::enums::{HostPathType, StorageMedium};
use crate::spec::quantity::Quantity;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A pod volume. Only `emptyDir` and `hostPath` are supported; any other Kubernetes volume
/// type fails with "volume type X is not supported" at its path.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirVolumeSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPathVolumeSource>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmptyDirVolumeSource {
    #[serde(default, skip_serializing_if = "is_default_medium")]
    pub medium: StorageMedium,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
}

fn is_default_medium(m: &StorageMedium) -> bool {
    *m == StorageMedium::Default
}
fn is_unset_type(t: &HostPathType) -> bool {
    *t == HostPathType::Unset
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostPathVolumeSource {
    pub path: String,
    #[serde(default, rename = "type", skip_serializing_if = "is_unset_type")]
    pub type_: HostPathType,
}

/// Kubernetes volume types that runp does not implement.
const OTHER_VOLUME_TYPES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
];

/// Fails while deserializing the value of an unsupported volume type, so the error has its path.
struct RejectVolumeType<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for RejectVolumeType<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom(format!("volume type {} is not supported (runp supports emptyDir and hostPath)", self.0)))
    }
}

impl<'de> Deserialize<'de> for Volume {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const FIELDS: &[&str] = &["name", "emptyDir", "hostPath"];
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Volume;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a volume (name plus emptyDir or hostPath)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Volume, A::Error> {
                let mut v = Volume::default();
                let mut name = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" if name.is_none() => name = Some(map.next_value::<String>()?),
                        "emptyDir" if v.empty_dir.is_none() => v.empty_dir = Some(map.next_value()?),
                        "hostPath" if v.host_path.is_none() => v.host_path = Some(map.next_value()?),
                        k => {
                            if let Some(f) = FIELDS.iter().find(|f| **f == k) {
                                return Err(de::Error::duplicate_field(f));
                            }
                            if !OTHER_VOLUME_TYPES.contains(&k) {
                                return Err(de::Error::unknown_field(k, FIELDS));
                            }
                            map.next_value_seed(RejectVolumeType(k))?;
                        }
                    }
                }
                v.name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                Ok(v)
            }
        }
        d.deserialize_map(V)
    }
}
