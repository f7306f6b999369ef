//! The checks behind `tests/docs`: every page of a tree, read as GitHub
//! renders it, against the built binary and the tree's files. The rules
//! are the ones docs/README.md ("Writing these pages") gives authors.

use super::common::{copy_dir, scratch};
use super::markdown::{self, Page};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub kind: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.kind, self.message)
    }
}

/// Folders whose Markdown is not documentation (build output, virtual
/// environments, test fixtures: the self-test's broken pages live there).
const NOT_DOCS: &[&str] = &["target", "node_modules", "tests/fixtures", "tests/snapshots"];

/// Repository folders a code span may name as a path (`src/graph.rs`,
/// `modules/…`): such a path must exist.
const PATH_ROOTS: &[&str] = &["src", "tests", "scripts", "modules", "examples", "schema", "schemas", "docs", "state"];

/// Every Markdown file under `root`, relative to it, sorted.
pub fn pages(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let name = p.file_name().unwrap().to_string_lossy();
            if name.starts_with('.') || NOT_DOCS.iter().any(|n| rel == Path::new(n)) {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if name.ends_with(".md") {
                out.push(rel);
            }
        }
    }
    let mut out = vec![];
    walk(root, root, &mut out);
    out
}

/// Runs every check on every page under `root`; snippets are validated
/// with `repo`'s modules beside them, as `examples/*` sees them.
pub fn check_tree(root: &Path, repo: &Path) -> Vec<Problem> {
    let cli = Cli::read();
    let files = pages(root);
    let parsed: BTreeMap<PathBuf, Page> =
        files.iter().map(|f| (f.clone(), markdown::parse(&std::fs::read_to_string(root.join(f)).unwrap()))).collect();
    let snippets = Snippets::new(repo);
    let mut problems = vec![];
    for (file, page) in &parsed {
        let name = file.to_string_lossy().to_string();
        let mut say = |line: usize, kind: &'static str, message: String| {
            problems.push(Problem { file: name.clone(), line, kind, message })
        };
        links(root, file, page, &parsed, &mut say);
        paths(root, page, &mut say);
        flags(&cli, page, &mut say);
        for block in &page.blocks {
            let line = block.line;
            match block.info.first().map(String::as_str) {
                Some("yaml") => snippets.yaml(block, &mut |m| say(line, "snippet", m)),
                Some("json") => json(block, &mut |k, m| say(line, k, m)),
                _ => {}
            }
        }
    }
    problems.sort();
    problems
}

// ---- links and anchors ----------------------------------------------------

fn links(
    root: &Path,
    file: &Path,
    page: &Page,
    all: &BTreeMap<PathBuf, Page>,
    say: &mut impl FnMut(usize, &'static str, String),
) {
    for link in &page.links {
        let t = &link.target;
        if t.is_empty() || t.contains("://") || t.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = t.split_once('#').map_or((t.as_str(), None), |(p, a)| (p, Some(a)));
        let target = if path.is_empty() {
            file.to_path_buf()
        } else {
            match normalise(&file.parent().unwrap().join(path)) {
                Some(p) => p,
                None => {
                    say(link.line, "link", format!("`{t}` leaves the repository"));
                    continue;
                }
            }
        };
        if !root.join(&target).exists() {
            say(link.line, "link", format!("`{t}`: no such file ({})", target.display()));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if target.extension().is_none_or(|e| e != "md") {
            continue; // GitHub's line anchors (#L10) and the like
        }
        let anchors = match all.get(&target) {
            Some(p) => &p.anchors,
            None => &markdown::parse(&std::fs::read_to_string(root.join(&target)).unwrap()).anchors,
        };
        if !anchors.iter().any(|a| a == anchor) {
            let near = anchors.iter().find(|a| a.contains(anchor) || anchor.contains(a.as_str()));
            let hint = near.map(|a| format!(" (did you mean `#{a}`?)")).unwrap_or_default();
            say(
                link.line,
                "anchor",
                format!("`{t}`: {} has no heading with anchor `#{anchor}`{hint}", target.display()),
            );
        }
    }
}

/// `a/b/../c` → `a/c`; `None` when it climbs above the root.
fn normalise(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// A code span that is a repository path (`src/graph.rs`, `src/kinds/*`)
/// names something that exists.
fn paths(root: &Path, page: &Page, say: &mut impl FnMut(usize, &'static str, String)) {
    for code in page.code.iter().filter(|c| !c.in_block) {
        let t = code.text.as_str();
        let looks_like_path = PATH_ROOTS.iter().any(|r| t.strip_prefix(r).is_some_and(|rest| rest.starts_with('/')))
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "_./*-".contains(c));
        if !looks_like_path {
            continue;
        }
        // `src/kinds/*`: the part before the first wildcard.
        let fixed = &t[..t.find('*').unwrap_or(t.len())];
        let exists = if t.contains('*') {
            let dir = root.join(&fixed[..fixed.rfind('/').unwrap_or(0)]);
            let stem = &fixed[fixed.rfind('/').map_or(0, |k| k + 1)..];
            dir.is_dir()
                && std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(stem))
        } else {
            root.join(fixed).exists()
        };
        if !exists {
            say(code.line, "path", format!("`{t}` does not exist"));
        }
    }
}

// ---- commands and flags ---------------------------------------------------

/// What `standby --help` and each command's `--help` offer.
pub struct Cli {
    /// `"plan"`, `"state migrate"` → its flags.
    flags: BTreeMap<String, BTreeSet<String>>,
    /// `"state"` → `migrate`, `pull`, …; `""` → the top-level commands.
    subcommands: BTreeMap<String, BTreeSet<String>>,
}

impl Cli {
    pub fn read() -> Cli {
        let mut cli = Cli { flags: BTreeMap::new(), subcommands: BTreeMap::new() };
        let mut todo = vec![String::new()];
        while let Some(cmd) = todo.pop() {
            let mut args: Vec<&str> = cmd.split_whitespace().collect();
            args.push("--help");
            let out = Command::new(env!("CARGO_BIN_EXE_standby")).args(&args).env("NO_COLOR", "1").output().unwrap();
            assert!(out.status.success(), "standby {} failed", args.join(" "));
            let help = String::from_utf8_lossy(&out.stdout).to_string();
            let (flags, subs) = parse_help(&help);
            for s in &subs {
                todo.push(format!("{cmd} {s}").trim().to_string());
            }
            cli.flags.insert(cmd.clone(), flags);
            cli.subcommands.insert(cmd, subs);
        }
        cli
    }

    fn knows(&self, cmd: &str, flag: &str) -> bool {
        self.flags.get(cmd).is_some_and(|f| f.contains(flag))
    }

    fn anywhere(&self, flag: &str) -> bool {
        self.flags.values().any(|f| f.contains(flag))
    }

    /// The command a run of words names (`state migrate --from` →
    /// `state migrate`), or the unknown word.
    fn command<'a>(&self, words: &[&'a str]) -> Result<(String, usize), &'a str> {
        let mut cmd = String::new();
        let mut used = 0;
        for w in words {
            let Some(subs) = self.subcommands.get(&cmd).filter(|s| !s.is_empty()) else { break };
            // `state list|show ADDR`: the first of alternatives.
            let w = w.split('|').next().unwrap();
            if !w.chars().all(|c| c.is_ascii_lowercase() || c == '-') || w.is_empty() {
                break;
            }
            if !subs.contains(w) {
                return Err(w);
            }
            cmd = format!("{cmd} {w}").trim().to_string();
            used += 1;
        }
        Ok((cmd, used))
    }
}

/// Long flags of an options section, and the commands of a commands section.
fn parse_help(help: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut flags, mut subs) = (BTreeSet::new(), BTreeSet::new());
    let mut section = "";
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line;
            continue;
        }
        let t = line.trim_start();
        if section == "Options:" {
            let t = t.strip_prefix("-h, ").or_else(|| t.strip_prefix("-V, ")).unwrap_or(t);
            if let Some(name) = t.strip_prefix("--") {
                flags.insert(name.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').next().unwrap().to_string());
            }
        } else if section == "Commands:" && line.starts_with("  ") && !line.starts_with("   ") {
            let name = t.split_whitespace().next().unwrap_or("");
            if name != "help" {
                subs.insert(name.to_string());
            }
        }
    }
    (flags, subs)
}

fn is_standby(word: &str) -> bool {
    let w = word.trim_matches(['"', '\'']);
    w == "standby" || w.ends_with("/standby") || w == "$STANDBY" || w == "${STANDBY}"
}

/// Shell words that end one command (a pipe, a redirect, a list).
fn ends_command(word: &str) -> bool {
    ["|", "||", "&&", ";", "&"].contains(&word) || word.starts_with('>') || word.starts_with("2>")
}

/// Flags a page mentions exist: `standby CMD … --flag` in a code span or a
/// shell line is `CMD`'s; a loose `--flag` span in a table row about
/// `standby CMD` too; any other span that starts with a flag (`--out FILE`)
/// must be some command's.
fn flags(cli: &Cli, page: &Page, say: &mut impl FnMut(usize, &'static str, String)) {
    for code in &page.code {
        let words: Vec<&str> = code.text.split_whitespace().collect();
        // A span like `plan --detailed-exitcode` speaks of standby too.
        let starts_with_command =
            !code.in_block && words.first().is_some_and(|w| cli.subcommands[""].contains(w.split('|').next().unwrap()));
        let mut current: Option<String> = None;
        let mut i = 0;
        if let Some(Ok((cmd, used))) = starts_with_command.then(|| cli.command(&words)) {
            current = Some(cmd);
            i = used;
        }
        let loose = words.first().is_some_and(|w| w.starts_with("--"));
        // A shell comment may speak of standby in words; its flags still
        // belong to the command before it.
        let mut comment = false;
        while i < words.len() {
            let w = words[i];
            i += 1;
            comment |= code.in_block && w.starts_with('#');
            if ends_command(w) && !comment {
                current = None;
                continue;
            }
            if is_standby(w) && !comment {
                match cli.command(&words[i..]) {
                    Ok((cmd, used)) => {
                        current = (!cmd.is_empty()).then_some(cmd);
                        i += used;
                    }
                    Err(unknown) => {
                        say(code.line, "command", format!("`standby {unknown}`: standby has no such command"));
                        current = None;
                    }
                }
                continue;
            }
            let Some(flag) = w.trim_start_matches(['[', '(', '`']).strip_prefix("--") else { continue };
            let flag: String = flag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if flag.is_empty() || flag == "help" || flag == "version" {
                continue;
            }
            let row = code.row_command.as_deref().map(|r| r.split_whitespace().collect::<Vec<_>>());
            let owner = current.clone().or_else(|| row.and_then(|w| cli.command(&w).ok()).map(|(cmd, _)| cmd));
            match owner {
                Some(cmd) if !cli.knows(&cmd, &flag) => {
                    say(code.line, "flag", format!("`standby {cmd} --{flag}`: not in `standby {cmd} --help`"))
                }
                None if loose && !code.in_block && !cli.anywhere(&flag) => say(
                    code.line,
                    "flag",
                    format!("`--{flag}`: no standby command has it (name the other tool, e.g. `aws … --{flag}`)"),
                ),
                _ => {}
            }
        }
    }
}

// ---- YAML snippets --------------------------------------------------------

/// Validates YAML snippets as the root module of a configuration
/// directory beside the examples (`../../modules/NAME` finds the modules),
/// with the example's regions when the snippet declares none.
struct Snippets {
    dir: PathBuf,
    n: std::cell::Cell<usize>,
}

impl Snippets {
    fn new(repo: &Path) -> Snippets {
        let dir = scratch("docs-snippets");
        copy_dir(&repo.join("modules"), &dir.join("modules"));
        Snippets { dir, n: std::cell::Cell::new(0) }
    }

    fn yaml(&self, block: &markdown::Block, say: &mut impl FnMut(String)) {
        if let Err(e) = marked_yaml::parse_yaml(0, &block.body) {
            // An empty document (comments only) is fine YAML.
            if block.body.lines().any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
                say(format!("not valid YAML: {e}"));
                return;
            }
        }
        if block.info.iter().any(|w| w == "fragment") {
            return;
        }
        self.n.set(self.n.get() + 1);
        let dir = self.dir.join(format!("examples/snippet-{}", self.n.get()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("main.yaml"), &block.body).unwrap();
        if !block.body.lines().any(|l| l.starts_with("regions:")) {
            std::fs::write(dir.join("regions.yaml"), "regions: { primary: us-west-1, secondary: us-east-1 }\n")
                .unwrap();
        }
        let out = Command::new(env!("CARGO_BIN_EXE_standby"))
            .args(["validate", "."])
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("STANDBY_STATE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if !out.status.success() {
            // `main.yaml:L:C` is line L of the snippet: the page's line is
            // the fence's plus L.
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().find(|l| l.starts_with("Error")).unwrap_or("(no error line)");
            let located = match first.split_once("main.yaml:").filter(|(before, _)| before.ends_with("Error: ")) {
                Some((_, rest)) => {
                    let mut parts = rest.splitn(3, ':');
                    let l: usize = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
                    let col = parts.next().unwrap_or("?");
                    let message = parts.next().unwrap_or("").trim();
                    format!("page line {}, column {col} (snippet line {l}): {message}", block.line + l)
                }
                None => first.to_string(),
            };
            let more = err.lines().filter(|l| l.starts_with("Error")).count() - 1;
            let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
            say(format!("`standby validate` refuses it (mark it ```yaml fragment if it is one): {located}{more}"));
        }
    }
}

// ---- JSON and the IAM policies ---------------------------------------------

/// JSON blocks parse; an IAM policy marked `iam-policy=NAME` is the one the
/// code generates (or says `pending` while no generator exists).
fn json(block: &markdown::Block, say: &mut impl FnMut(&'static str, String)) {
    if block.info.iter().any(|w| w == "fragment") {
        return;
    }
    let shown: Value = match serde_json::from_str(&block.body) {
        Ok(v) => v,
        Err(e) => return say("snippet", format!("not valid JSON: {e}")),
    };
    let Some(name) = block.info.iter().find_map(|w| w.strip_prefix("iam-policy=")) else { return };
    let pending = block.info.iter().any(|w| w == "pending");
    match (super::policies::generated(name), pending) {
        (Some(_), true) => {
            say("policy", format!("`iam-policy={name}` is marked pending, but the code generates it: drop `pending`"))
        }
        (None, true) => {}
        (None, false) => say(
            "policy",
            format!("no generator for `iam-policy={name}` (tests/docs/policies.rs): mark the block `pending`"),
        ),
        (Some(generated), false) => {
            for m in super::policies::compare(&shown, &generated) {
                say("policy", format!("`iam-policy={name}`: {m}"));
            }
        }
    }
}
