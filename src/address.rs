//! Resource addresses: `module.storage.aws_s3_bucket.files["a"]`.

use std::fmt;

/// The instance key of a resource with `count` (`[0]`) or `for_each` (`["k"]`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    None,
    Int(i64),
    Str(String),
}

impl Key {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Key::None => serde_json::Value::Null,
            Key::Int(i) => (*i).into(),
            Key::Str(s) => s.clone().into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::None => Ok(()),
            Key::Int(i) => write!(f, "[{i}]"),
            // JSON string escaping, which `parse` reverses.
            Key::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// A resource block: every instance that one `resources:` entry makes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockAddr {
    pub module: Vec<String>,
    pub type_name: String,
    pub name: String,
}

impl BlockAddr {
    pub fn instance(&self, key: Key) -> InstanceAddr {
        InstanceAddr { block: self.clone(), key }
    }
}

impl fmt::Display for BlockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.module {
            write!(f, "module.{m}.")?;
        }
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceAddr {
    pub block: BlockAddr,
    pub key: Key,
}

impl fmt::Display for InstanceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.block, self.key)
    }
}

/// The block part of an instance address (`a.b["k"]` → `a.b`).
pub fn block_of(address: &str) -> String {
    address.split_once('[').map(|(b, _)| b.to_string()).unwrap_or_else(|| address.to_string())
}

/// Prints a module path as `module.a.module.b` (empty for the root).
pub fn module_path(path: &[String]) -> String {
    path.iter().map(|m| format!("module.{m}")).collect::<Vec<_>>().join(".")
}

/// What an address given on the command line selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// A whole module (`module.storage`).
    Module(Vec<String>),
    /// All instances of a block (`aws_s3_bucket.files`).
    Block(BlockAddr),
    /// One instance (`aws_s3_bucket.files[0]`).
    Instance(InstanceAddr),
}

impl Selector {
    pub fn matches(&self, addr: &InstanceAddr) -> bool {
        match self {
            Selector::Module(m) => addr.block.module.starts_with(m),
            Selector::Block(b) => &addr.block == b,
            Selector::Instance(i) => i == addr,
        }
    }
}

/// Parses `module.a.type.name[0]`, `type.name["k"]`, `module.a`.
pub fn parse(text: &str) -> Result<Selector, String> {
    let bad = || format!("invalid resource address {text:?}: expected [module.NAME.]TYPE.NAME[INDEX]");
    let (head, key) = match text.find('[') {
        Some(i) => {
            let inner = text[i..].strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(bad)?;
            let key = if let Ok(n) = inner.parse::<i64>() {
                Key::Int(n)
            } else if let Ok(s) = serde_json::from_str::<String>(inner) {
                Key::Str(s)
            } else {
                return Err(bad());
            };
            (&text[..i], Some(key))
        }
        None => (text, None),
    };
    let parts: Vec<&str> = head.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let mut module = Vec::new();
    let mut i = 0;
    while i < parts.len() && parts[i] == "module" {
        let name = parts.get(i + 1).ok_or_else(bad)?;
        module.push(name.to_string());
        i += 2;
    }
    match &parts[i..] {
        [] if key.is_none() && !module.is_empty() => Ok(Selector::Module(module)),
        [t, n] => {
            let block = BlockAddr { module, type_name: t.to_string(), name: n.to_string() };
            Ok(match key {
                Some(k) => Selector::Instance(block.instance(k)),
                None => Selector::Block(block),
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_addresses() {
        for text in ["standby_data.a", "standby_data.a[3]", "module.m.module.n.t.x[\"k\"]"] {
            let shown = match parse(text).unwrap() {
                Selector::Block(b) => b.to_string(),
                Selector::Instance(i) => i.to_string(),
                Selector::Module(_) => unreachable!(),
            };
            assert_eq!(shown, text);
        }
        assert_eq!(parse("module.m").unwrap(), Selector::Module(vec!["m".into()]));
        assert!(parse("standby_data").is_err());
        assert!(parse("a.b[x]").is_err());
        assert!(parse("a..b").is_err());
        // Keys with quotes, backslashes and brackets survive a round trip.
        let odd = BlockAddr { module: vec![], type_name: "t".into(), name: "n".into() }
            .instance(Key::Str("a\"b\\c]d[".into()));
        assert_eq!(parse(&odd.to_string()).unwrap(), Selector::Instance(odd));
    }
}
