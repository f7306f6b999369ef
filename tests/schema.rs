//! `standby schema` against a real JSON Schema validator (Python's
//! `jsonschema`, Draft7Validator, from the emulator's venv): every example
//! and module file validates, typos do not, and the committed copy that the
//! files' `# yaml-language-server: $schema=` lines point at is current.

mod common;

use common::{repo, scratch, standby};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHECK: &str = r#"
import json, sys, yaml, jsonschema

class Loader(yaml.SafeLoader):
    pass

# standby reads YAML 1.2: 2012-10-17 is a string, not a date.
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
out = {}
for path in sys.argv[2:]:
    doc = yaml.load(open(path), Loader=Loader) or {}
    out[path] = sorted(
        "/".join(str(p) for p in e.absolute_path) + ": " + e.message for e in validator.iter_errors(doc)
    )
print(json.dumps(out))
"#;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// Errors per file, from jsonschema.
fn validate(schema: &Path, files: &[PathBuf]) -> serde_json::Map<String, Value> {
    let out = Command::new(repo().join(".venv-emulator/bin/python"))
        .arg("-c")
        .arg(CHECK)
        .arg(schema)
        .args(files)
        .output()
        .expect("run the emulator venv's python (scripts/emulator install)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_object().unwrap().clone()
}

fn schema_file() -> PathBuf {
    let run = standby(&repo(), &["schema"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let path = scratch("schema").join("standby.schema.json");
    std::fs::write(&path, &run.stdout).unwrap();
    path
}

#[test]
fn every_example_and_module_validates_and_points_at_the_schema() {
    let schema = schema_file();
    let committed = std::fs::read_to_string(repo().join("schema/standby.schema.json")).unwrap_or_default();
    assert_eq!(
        committed,
        std::fs::read_to_string(&schema).unwrap(),
        "schema/standby.schema.json is stale: run `standby schema > schema/standby.schema.json`"
    );
    let mut files = Vec::new();
    yaml_files(&repo().join("examples"), &mut files);
    yaml_files(&repo().join("modules"), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for (file, errors) in validate(&schema, &files) {
        assert_eq!(errors, Value::Array(vec![]), "{file}");
    }
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let line = text.lines().find(|l| l.starts_with("# yaml-language-server: $schema=")).unwrap_or_else(|| {
            panic!("{} does not start with the `# yaml-language-server: $schema=` line", f.display())
        });
        let target = f.parent().unwrap().join(line.trim_start_matches("# yaml-language-server: $schema="));
        assert_eq!(
            target.canonicalize().ok(),
            repo().join("schema/standby.schema.json").canonicalize().ok(),
            "{}: the modeline must point at schema/standby.schema.json",
            f.display()
        );
    }
}

#[test]
fn typos_fail_validation() {
    let schema = schema_file();
    let dir = scratch("schema-typos");
    let cases = [
        ("top.yaml", "resorces:\n  a: { type: standby_data }\n", "Additional properties are not allowed ('resorces'"),
        (
            "block.yaml",
            "resources:\n  a: { type: standby_data, propertes: {} }\n",
            "resources/a: Additional properties are not allowed ('propertes'",
        ),
        (
            "property.yaml",
            "resources:\n  b:\n    type: aws_s3_bucket\n    properties: { bucket: x, force_destory: true }\n",
            "resources/b/properties: Additional properties are not allowed ('force_destory'",
        ),
        (
            "kind.yaml",
            "resources:\n  c: { type: aws_s3_buckett }\n",
            "resources/c/type: 'aws_s3_buckett' is not one of",
        ),
        (
            "required.yaml",
            "resources:\n  d: { type: aws_s3_bucket, properties: {} }\n",
            "resources/d/properties: 'bucket' is a required property",
        ),
        ("backend.yaml", "backend:\n  s3: { bucket: b, kee: k }\n", "backend/s3"),
        ("module.yaml", "modules:\n  m: { sourse: ./m }\n", "modules/m: 'source' is a required property"),
    ];
    let mut files = Vec::new();
    for (name, text, _) in &cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        files.push(p);
    }
    let results = validate(&schema, &files);
    for ((_, _, want), file) in cases.iter().zip(&files) {
        let errors = results[&file.display().to_string()].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e.as_str().unwrap().starts_with(want) || e.as_str().unwrap().contains(want)),
            "{}: expected an error like {want:?}, got {errors:?}",
            file.display()
        );
    }
}
