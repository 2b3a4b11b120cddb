//! "Allow always", narrowed to what Claude Code itself suggested for one request.
//!
//! A `can_use_tool` request carries `permission_suggestions`. "Always" applies only its
//! `addRules` entries with `behavior: "allow"`, each rule copied field by field (`toolName`, and
//! `ruleContent` when present) and answered with `destination: "session"`, so the CLI writes
//! nothing into the user's settings files. `addDirectories`, `setMode` and anything else are
//! never applied. The rules are remembered as strings in the CLI's own syntax (`Tool` or
//! `Tool(content)`, with `\`, `(` and `)` in the content escaped as the CLI escapes them) and
//! handed to every later process through `--settings` (see [`settings_arg`]).
//!
//! Must never: produce a whole-tool rule from a rule that had content (an empty `ruleContent`
//! is dropped, because the CLI prints it as the bare tool name), or pass a rule on a command line
//! that splits on spaces and commas (`--allowedTools` does, and a command like `x) Bash (y` would
//! turn into a bare `Bash` there).

use serde_json::{json, Map, Value};

/// What "always" may apply for one request: the CLI's own allow rules, ready to send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlwaysAllow {
    /// The `updatedPermissions` entries to answer with (empty: a plain allow).
    pub updates: Vec<Value>,
    /// The same rules as strings in the CLI's syntax, in order, without duplicates.
    pub rules: Vec<String>,
}

/// Picks the `addRules`/`allow` suggestions out of a request's `permission_suggestions`.
pub fn always_allow(suggestions: Option<&Value>) -> AlwaysAllow {
    let mut out = AlwaysAllow::default();
    let entries = suggestions.and_then(Value::as_array);
    for entry in entries.into_iter().flatten() {
        let is_allow_rules = entry.get("type").and_then(Value::as_str) == Some("addRules")
            && entry.get("behavior").and_then(Value::as_str) == Some("allow");
        if !is_allow_rules {
            continue;
        }
        let rules = entry.get("rules").and_then(Value::as_array);
        let mut kept = Vec::new();
        for rule in rules.into_iter().flatten() {
            let Some((value, text)) = clean_rule(rule) else {
                log::warn!("ignoring a malformed rule suggestion: {rule}");
                continue;
            };
            kept.push(value);
            if !out.rules.contains(&text) {
                out.rules.push(text);
            }
        }
        if !kept.is_empty() {
            out.updates.push(json!({
                "type": "addRules",
                "rules": kept,
                "behavior": "allow",
                "destination": "session",
            }));
        }
    }
    out
}

/// A suggested rule rebuilt from its two known fields, and its string form; `None` when the
/// tool name is not a plain name or the content is empty or not a string.
fn clean_rule(rule: &Value) -> Option<(Value, String)> {
    let tool = rule.get("toolName").and_then(Value::as_str)?;
    if !is_tool_name(tool) {
        return None;
    }
    let mut value = Map::new();
    value.insert("toolName".into(), json!(tool));
    let content = match rule.get("ruleContent") {
        None | Some(Value::Null) => None,
        Some(Value::String(content)) if !content.is_empty() => Some(content.as_str()),
        Some(_) => return None,
    };
    if let Some(content) = content {
        value.insert("ruleContent".into(), json!(content));
    }
    Some((Value::Object(value), rule_string(tool, content)))
}

/// Tool names as Claude Code has them: `Bash`, `WebFetch`, `mcp__server__tool`.
fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

/// A rule in the CLI's syntax: `Tool`, or `Tool(content)` with `\`, `(` and `)` escaped.
pub fn rule_string(tool: &str, content: Option<&str>) -> String {
    match content {
        None => tool.to_string(),
        Some(content) => {
            let escaped = content
                .replace('\\', "\\\\")
                .replace('(', "\\(")
                .replace(')', "\\)");
            format!("{tool}({escaped})")
        }
    }
}

/// The value of `--settings` that allows `rules` for one process, in memory only:
/// `{"permissions":{"allow":[…]}}`.
pub fn settings_arg(rules: &[String]) -> String {
    json!({"permissions": {"allow": rules}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Claude Code 2.1.330 suggests for `touch first_file.txt` in the project.
    fn real_suggestions() -> Value {
        json!([
            {"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "touch first_file.txt"}],
             "behavior": "allow", "destination": "localSettings"},
            {"type": "addDirectories", "directories": ["/home/dev/project"], "destination": "session"},
            {"type": "setMode", "mode": "acceptEdits", "destination": "session"},
        ])
    }

    #[test]
    fn only_the_allow_rules_are_kept_and_they_stay_in_the_session() {
        let always = always_allow(Some(&real_suggestions()));
        assert_eq!(
            always.updates,
            vec![json!({"type": "addRules",
                        "rules": [{"toolName": "Bash", "ruleContent": "touch first_file.txt"}],
                        "behavior": "allow", "destination": "session"})]
        );
        assert_eq!(always.rules, vec!["Bash(touch first_file.txt)"]);
    }

    #[test]
    fn no_rule_suggested_means_nothing_to_apply() {
        let set_mode =
            json!([{"type": "setMode", "mode": "acceptEdits", "destination": "session"}]);
        assert_eq!(always_allow(Some(&set_mode)), AlwaysAllow::default());
        assert_eq!(always_allow(None), AlwaysAllow::default());
        assert_eq!(always_allow(Some(&json!("junk"))), AlwaysAllow::default());
        let deny = json!([{"type": "addRules", "rules": [{"toolName": "Bash"}], "behavior": "deny",
                           "destination": "session"}]);
        assert_eq!(always_allow(Some(&deny)), AlwaysAllow::default());
    }

    #[test]
    fn malformed_rules_never_become_a_whole_tool() {
        let suggestions = json!([{"type": "addRules", "behavior": "allow", "destination": "userSettings",
        "rules": [
            {"toolName": "Bash", "ruleContent": ""},
            {"toolName": "Bash", "ruleContent": 7},
            {"toolName": "Bash(x) Bash", "ruleContent": "y"},
            {"toolName": ""},
            {"ruleContent": "ls"},
            {"toolName": "mcp__files__read", "extra": "dropped"},
        ]}]);
        let always = always_allow(Some(&suggestions));
        assert_eq!(always.rules, vec!["mcp__files__read"]);
        assert_eq!(
            always.updates[0]["rules"],
            json!([{"toolName": "mcp__files__read"}])
        );
    }

    #[test]
    fn rule_strings_escape_like_the_cli() {
        assert_eq!(rule_string("Write", None), "Write");
        assert_eq!(
            rule_string("Bash", Some(r"x) Bash (y \ z")),
            r"Bash(x\) Bash \(y \\ z)"
        );
        assert_eq!(
            settings_arg(&["Bash(echo a, b)".into()]),
            r#"{"permissions":{"allow":["Bash(echo a, b)"]}}"#
        );
    }
}
