//! The documentation cannot drift from the header, nor send readers out of the
//! repository: docs/api.md has one `### rt_name` section per function declared in
//! include/mrt.h (no more, no fewer) and lists every error code, and the Markdown
//! files link only to files that exist in the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `rt_*` functions declared in the committed header: prototypes start a line.
fn header_functions() -> BTreeSet<String> {
    read("include/mrt.h")
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && l.trim_end().ends_with(");"))
        .filter_map(|l| {
            let before = &l[..l.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("rt_").then(|| name.to_string())
        })
        .collect()
}

/// Functions documented in docs/api.md: the `### rt_name` headings.
fn documented_functions() -> BTreeSet<String> {
    read("docs/api.md")
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|h| {
            let h = h.trim().trim_matches('`');
            let end = h
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(h.len());
            h[..end].starts_with("rt_").then(|| h[..end].to_string())
        })
        .collect()
}

#[test]
fn api_md_documents_exactly_the_header_functions() {
    let declared = header_functions();
    assert!(
        declared.len() >= 50,
        "parsed only {} functions",
        declared.len()
    );
    let documented = documented_functions();
    let missing: Vec<_> = declared.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/api.md and include/mrt.h disagree:\n  declared, not documented: {missing:?}\n  \
         documented, not declared: {extra:?}"
    );
}

#[test]
fn api_md_lists_every_error_code() {
    let api = read("docs/api.md");
    for line in read("include/mrt.h").lines() {
        if let Some(rest) = line.strip_prefix("#define RT_E") {
            let name = format!("RT_E{}", rest.split_whitespace().next().unwrap());
            assert!(
                api.contains(&format!("| `{name}` |")),
                "docs/api.md's error table lacks {name}"
            );
        }
    }
}

/// Targets of Markdown links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(p) = rest.find("](") {
        rest = &rest[p + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

#[test]
fn docs_link_only_inside_the_repository() {
    let files = [
        "README.md",
        "CHANGELOG.md",
        "docs/api.md",
        "docs/design.md",
        "docs/hosts.md",
        "python-bindings/README.md",
    ];
    for rel in files {
        let text = read(rel);
        assert!(
            !text.contains("../shared") && !text.contains("http://") && !text.contains("https://"),
            "{rel} points outside the repository"
        );
        let dir = Path::new(rel).parent().unwrap();
        for target in links(&text) {
            let path = target.split('#').next().unwrap();
            if path.is_empty() {
                continue; // an anchor in the same file
            }
            assert!(
                root().join(dir).join(path).exists(),
                "{rel} links to {target}, which is not in the repository"
            );
        }
    }
}
