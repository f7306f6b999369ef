//! Just enough of Markdown (as GitHub renders it) to check the pages:
//! fenced code blocks with their info strings, inline code spans, links,
//! table rows and headings with GitHub's anchors.

/// A fenced code block.
pub struct Block {
    /// Line of the opening fence (1-based).
    pub line: usize,
    /// The info string's words: `yaml fragment` is `["yaml", "fragment"]`.
    pub info: Vec<String>,
    pub body: String,
}

/// An inline code span, or one line of a code block: a place where a
/// command line may be written.
pub struct Code {
    pub line: usize,
    pub text: String,
    /// The command a table row is about (`standby plan …` in its first
    /// cell): loose flags elsewhere in the row are that command's.
    pub row_command: Option<String>,
    /// A line of a shell code block (not an inline span).
    pub in_block: bool,
}

pub struct Link {
    pub line: usize,
    pub target: String,
}

pub struct Page {
    pub blocks: Vec<Block>,
    pub code: Vec<Code>,
    pub links: Vec<Link>,
    /// Every anchor GitHub gives the page: headings (with `-1`, `-2` for
    /// repeats) and explicit `<a id>`/`<a name>` anchors.
    pub anchors: Vec<String>,
}

pub fn parse(text: &str) -> Page {
    let mut page = Page { blocks: vec![], code: vec![], links: vec![], anchors: vec![] };
    let mut slugs: Vec<String> = vec![];
    let lines: Vec<&str> = text.lines().collect();
    // A paragraph's lines are joined: code spans and links may wrap.
    let mut para: Vec<(usize, &str)> = vec![];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(fence) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            inline(&para, None, &mut page);
            para.clear();
            let info = trimmed[3..].trim_start_matches(&fence[..1]).split_whitespace().map(String::from).collect();
            let start = i + 1;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with(fence) {
                let l = lines[i];
                let cut = l.len() - l.trim_start().len();
                body.push_str(&l[cut.min(indent)..]);
                body.push('\n');
                i += 1;
            }
            let block = Block { line: start, info, body };
            if matches!(block.info.first().map(String::as_str), Some("sh" | "bash" | "console" | "shell")) {
                for (n, l) in block.body.lines().enumerate() {
                    page.code.push(Code {
                        line: start + 1 + n,
                        text: l.to_string(),
                        row_command: None,
                        in_block: true,
                    });
                }
            }
            page.blocks.push(block);
            i += 1;
            continue;
        }
        if trimmed.is_empty() {
            inline(&para, None, &mut page);
            para.clear();
        } else if trimmed.starts_with('#') && indent < 4 {
            inline(&para, None, &mut page);
            para.clear();
            let title = trimmed.trim_start_matches('#').trim();
            let base = slug(title);
            let n = slugs.iter().filter(|s| **s == base).count();
            page.anchors.push(if n == 0 { base.clone() } else { format!("{base}-{n}") });
            slugs.push(base);
            inline(&[(i + 1, title)], None, &mut page);
        } else if let Some(cells) = trimmed.strip_prefix('|') {
            inline(&para, None, &mut page);
            para.clear();
            let first_cell = cells.split(" | ").next().unwrap_or("");
            let row = spans(first_cell).into_iter().find_map(|s| s.strip_prefix("standby ").map(String::from));
            inline(&[(i + 1, line)], row, &mut page);
        } else {
            para.push((i + 1, line));
        }
        for anchor in html_anchors(line) {
            page.anchors.push(anchor);
        }
        i += 1;
    }
    inline(&para, None, &mut page);
    page
}

/// Code spans and links of a paragraph (its lines joined).
fn inline(lines: &[(usize, &str)], row: Option<String>, page: &mut Page) {
    let Some(&(first, _)) = lines.first() else { return };
    let text: String = lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
    let line_at = |pos: usize| first + text[..pos].matches('\n').count();
    let b = text.as_bytes();
    let mut i = 0;
    let mut plain = String::new();
    let mut plain_at = vec![];
    while i < b.len() {
        if b[i] == b'`' {
            let run = b[i..].iter().take_while(|c| **c == b'`').count();
            let ticks = &text[i..i + run];
            if let Some(end) = text[i + run..].find(ticks) {
                let content = text[i + run..i + run + end].split_whitespace().collect::<Vec<_>>().join(" ");
                page.code.push(Code { line: line_at(i), text: content, row_command: row.clone(), in_block: false });
                i += run + end + run;
                continue;
            }
            i += run;
            continue;
        }
        if text[i..].starts_with("<!--") {
            i += text[i..].find("-->").map_or(b.len() - i, |e| e + 3);
            continue;
        }
        let ch = text[i..].chars().next().unwrap();
        plain.push(ch);
        plain_at.extend(std::iter::repeat_n(i, ch.len_utf8()));
        i += ch.len_utf8();
    }
    // Inline links `[text](target "title")` and definitions `[label]: target`.
    let mut from = 0;
    while let Some(k) = plain[from..].find("](") {
        let start = from + k + 2;
        let Some(len) = plain[start..].find(')') else { break };
        let target = plain[start..start + len].split_whitespace().next().unwrap_or("").trim_matches(['<', '>']);
        page.links.push(Link { line: line_at(plain_at[start]), target: target.to_string() });
        from = start + len;
    }
    for (n, l) in lines {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('[').and_then(|r| r.split_once("]: ")).map(|(_, r)| r) {
            page.links.push(Link { line: *n, target: rest.split_whitespace().next().unwrap_or("").to_string() });
        }
    }
}

/// The code spans of a piece of inline text.
fn spans(text: &str) -> Vec<String> {
    let mut out = vec![];
    let parts: Vec<&str> = text.split('`').collect();
    for (n, p) in parts.iter().enumerate() {
        if n % 2 == 1 && n + 1 < parts.len() {
            out.push(p.trim().to_string());
        }
    }
    out
}

/// `<a id="x">` and `<a name="x">`.
fn html_anchors(line: &str) -> Vec<String> {
    let mut out = vec![];
    for attr in [" id=\"", " name=\""] {
        let mut rest = line;
        while let Some(k) = rest.find("<a") {
            rest = &rest[k + 2..];
            let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
            if let Some(v) = tag.find(attr).map(|p| &tag[p + attr.len()..]) {
                out.push(v[..v.find('"').unwrap_or(v.len())].to_string());
            }
        }
    }
    out
}

/// GitHub's anchor for a heading: the rendered text (code spans keep their
/// content, a link keeps its text, emphasis marks go), lower-cased, every
/// character but letters, digits, `-`, `_` and spaces dropped, spaces
/// turned into `-` (github-slugger, which github.com uses).
pub fn slug(title: &str) -> String {
    let mut text = String::new();
    let mut rest = title;
    while let Some(k) = rest.find('[') {
        let (before, after) = rest.split_at(k);
        text.push_str(before);
        match after.find("](").and_then(|m| after[m..].find(')').map(|e| (m, m + e))) {
            Some((m, e)) => {
                text.push_str(&after[1..m]);
                rest = &after[e + 1..];
            }
            None => {
                text.push('[');
                rest = &after[1..];
            }
        }
    }
    text.push_str(rest);
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn github_anchors() {
    assert_eq!(slug("Fixes (moto 5.2.5 → AWS)"), "fixes-moto-525--aws");
    assert_eq!(slug("Rolling the nodes: `instance_refresh`"), "rolling-the-nodes-instance_refresh");
    assert_eq!(slug("`standby preflight [DIR]`"), "standby-preflight-dir");
    assert_eq!(slug("See [the page](x.md#y), **now**"), "see-the-page-now");
    let page = parse("# A\n\n## A\n\n```\n# not a heading\n```\n\n## A\n");
    assert_eq!(page.anchors, ["a", "a-1", "a-2"]);
}

#[test]
fn spans_links_and_blocks() {
    let page = parse(
        "Run `standby state rm\n  ADDR` and see [the page](docs/x.md#y).\n\n\
         | `standby plan [DIR]` | `--out FILE` |\n\n  ```yaml fragment\n  a: 1\n  ```\n",
    );
    let code: Vec<_> = page.code.iter().map(|c| (c.line, c.text.as_str(), c.row_command.as_deref())).collect();
    assert_eq!(
        code,
        [
            (1, "standby state rm ADDR", None),
            (4, "standby plan [DIR]", Some("plan [DIR]")),
            (4, "--out FILE", Some("plan [DIR]"))
        ]
    );
    assert_eq!(page.links.iter().map(|l| (l.line, l.target.as_str())).collect::<Vec<_>>(), [(2, "docs/x.md#y")]);
    assert_eq!(page.blocks[0].info, ["yaml", "fragment"]);
    assert_eq!(page.blocks[0].body, "a: 1\n");
}
