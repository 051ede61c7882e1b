//! The string enums of the Pod API (with the API server's "Unsupported value" message) and
//! `IntOrString`, each with a hand-written `Deserialize` so errors name the bad value.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// An enum serialized as a fixed string, with the API server's message for other values.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            pub const VALUES: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str { match self { $(Self::$variant => $text),+ } }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "one of {}", quoted($name::VALUES))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        match v {
                            $($text => Ok($name::$variant),)+
                            _ => Err(E::custom(format!(
                                "Unsupported value: {v:?}: supported values: {}", quoted($name::VALUES)))),
                        }
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// `"a", "b", "c"`, the API server's way of listing allowed values.
pub fn quoted(values: &[&str]) -> String {
    values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
}

string_enum!(#[derive(Default)] RestartPolicy { #[default] Always = "Always", OnFailure = "OnFailure", Never = "Never" });
string_enum!(PullPolicy { Always = "Always", IfNotPresent = "IfNotPresent", Never = "Never" });
string_enum!(#[derive(Default)] DnsPolicy { #[default] ClusterFirst = "ClusterFirst", ClusterFirstWithHostNet = "ClusterFirstWithHostNet", Default = "Default", None = "None" });
string_enum!(#[derive(Default)] Protocol { #[default] Tcp = "TCP", Udp = "UDP", Sctp = "SCTP" });
string_enum!(#[derive(Default)] TerminationMessagePolicy { #[default] File = "File", FallbackToLogsOnError = "FallbackToLogsOnError" });
string_enum!(#[derive(Default)] Scheme { #[default] Http = "HTTP", Https = "HTTPS" });
string_enum!(#[derive(Default)] StorageMedium { #[default] Default = "", Memory = "Memory" });
string_enum!(#[derive(Default)] HostPathType {
    #[default] Unset = "", DirectoryOrCreate = "DirectoryOrCreate", Directory = "Directory", FileOrCreate = "FileOrCreate",
    File = "File", Socket = "Socket", CharDevice = "CharDevice", BlockDevice = "BlockDevice",
});
string_enum!(MountPropagation { None = "None", HostToContainer = "HostToContainer", Bidirectional = "Bidirectional" });
string_enum!(SeccompProfileType { RuntimeDefault = "RuntimeDefault", Unconfined = "Unconfined", Localhost = "Localhost" });

/// A port given as a number or as the name of a container port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(n) => s.serialize_i32(*n),
            IntOrString::String(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a port name")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                i32::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("invalid value {v}: must be between 1 and 65535, inclusive")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::String(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
