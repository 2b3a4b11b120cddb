//! The fake's permission rules, as the real CLI has them: which suggestions a request carries,
//! which rules the launch flags and the host's answers add, and whether a rule allows a use.

use std::collections::HashSet;

use serde_json::{json, Value};

/// Tools whose rule content is the file path; for Bash it is the command.
const PATH_TOOLS: [&str; 4] = ["Write", "Edit", "NotebookEdit", "Read"];
/// Tools the real CLI suggests only `setMode acceptEdits` for, inside the project.
const EDIT_TOOLS: [&str; 3] = ["Write", "Edit", "NotebookEdit"];

/// The content a `Tool(content)` rule is compared with, for this use of `tool`.
fn rule_content(tool: &str, input: &Value) -> Option<String> {
    let field = if tool == "Bash" {
        "command"
    } else if PATH_TOOLS.contains(&tool) {
        "file_path"
    } else {
        return None;
    };
    input.get(field).and_then(Value::as_str).map(str::to_string)
}

/// `Tool(content)` with `\`, `(` and `)` escaped, as the real CLI writes a rule.
fn rule_string(tool: &str, content: &str) -> String {
    let escaped = content
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    format!("{tool}({escaped})")
}

/// Whether one of `rules` allows this use: the bare tool name, or exactly its content.
pub fn rules_allow(rules: &HashSet<String>, tool: &str, input: &Value) -> bool {
    rules.contains(tool)
        || rule_content(tool, input).is_some_and(|c| rules.contains(&rule_string(tool, &c)))
}

/// The `permission_suggestions` the real CLI 2.1.330 sends for this request.
pub fn suggestions(tool: &str, input: &Value, cwd: &str) -> Value {
    let set_mode = json!({"type": "setMode", "mode": "acceptEdits", "destination": "session"});
    if EDIT_TOOLS.contains(&tool) {
        return json!([set_mode]);
    }
    let rule = match (tool, rule_content(tool, input)) {
        ("Bash", Some(command)) => json!({"toolName": "Bash", "ruleContent": command}),
        _ => json!({"toolName": tool}),
    };
    json!([
        {"type": "addRules", "rules": [rule], "behavior": "allow", "destination": "localSettings"},
        {"type": "addDirectories", "directories": [cwd], "destination": "session"},
        set_mode,
    ])
}

/// The allow rules of an answer's `updatedPermissions` (`addRules` entries), as rule strings.
pub fn answered_rules(answer: &Value) -> Vec<String> {
    let updates = answer.get("updatedPermissions").and_then(Value::as_array);
    updates
        .into_iter()
        .flatten()
        .filter(|u| u.get("type").and_then(Value::as_str) == Some("addRules"))
        .filter(|u| u.get("behavior").and_then(Value::as_str) == Some("allow"))
        .filter_map(|u| u.get("rules").and_then(Value::as_array))
        .flatten()
        .filter_map(|r| {
            let tool = r.get("toolName").and_then(Value::as_str)?;
            Some(match r.get("ruleContent").and_then(Value::as_str) {
                Some(content) if !content.is_empty() => rule_string(tool, content),
                _ => tool.to_string(),
            })
        })
        .collect()
}

/// The rules of every `--allowedTools` (split like the real CLI: on commas and spaces outside
/// parentheses) and every `--settings` JSON (`permissions.allow`).
pub fn launch_rules(flags: &[(String, Option<String>)]) -> HashSet<String> {
    let mut rules = HashSet::new();
    for (name, value) in flags {
        let Some(value) = value else { continue };
        match name.as_str() {
            "--allowedTools" | "--allowed-tools" => rules.extend(split_tool_list(value)),
            "--settings" => {
                let settings: Value = serde_json::from_str(value).unwrap_or(Value::Null);
                let allow = settings
                    .pointer("/permissions/allow")
                    .and_then(Value::as_array);
                rules.extend(
                    allow
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string),
                );
            }
            _ => {}
        }
    }
    rules
}

/// The real CLI's `--allowedTools` splitting: commas and spaces end a rule unless inside
/// parentheses (a `)` ends "inside", nested or not).
fn split_tool_list(list: &str) -> Vec<String> {
    let mut rules = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    for c in list.chars() {
        match c {
            '(' => {
                inside = true;
                current.push(c);
            }
            ')' => {
                inside = false;
                current.push(c);
            }
            ',' | ' ' if !inside => {
                if !current.trim().is_empty() {
                    rules.push(current.trim().to_string());
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        rules.push(current.trim().to_string());
    }
    rules
}
