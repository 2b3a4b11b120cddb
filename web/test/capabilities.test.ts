import { test } from "node:test";
import assert from "node:assert/strict";
import { effortsFor, matchCommands, modelsToOffer, modesToOffer, slashQuery, type CapabilitiesView } from "../src/capabilities";

const view: CapabilitiesView = {
  known: true,
  capabilities: {
    commands: [
      { name: "compact", description: "Free up context" },
      { name: "code-review", aliases: ["review"] },
      { name: "context" },
      { name: "clear", aliases: ["reset"] },
    ],
    models: [
      { value: "default", effort_levels: ["low", "high"], supports_effort: true },
      { value: "sonnet", resolved_model: "claude-sonnet-5-5", effort_levels: ["low"], supports_effort: true },
      { value: "plain", supports_effort: false },
    ],
  },
  permission_modes: ["default", "plan", "auto"],
  allow_bypass_permissions: false,
  effort_levels: ["low", "high"],
};

test("a slash query is a leading / and one word being typed", () => {
  assert.equal(slashQuery("/"), "");
  assert.equal(slashQuery("/Co"), "co");
  assert.equal(slashQuery("/compact now"), null);
  assert.equal(slashQuery("hello /x"), null);
  assert.equal(slashQuery(""), null);
});

test("commands match by name or alias, prefixes first", () => {
  const cmds = view.capabilities!.commands!;
  assert.deepEqual(matchCommands(cmds, "co").map((c) => c.name), ["compact", "code-review", "context"]);
  assert.deepEqual(matchCommands(cmds, "rev").map((c) => c.name), ["code-review"]);
  assert.deepEqual(matchCommands(cmds, "ext").map((c) => c.name), ["context"]);
  assert.equal(matchCommands(cmds, "", 2).length, 2);
});

test("modes, models and efforts come from the CLI, with fallbacks", () => {
  assert.deepEqual(modesToOffer(view, "plan"), ["default", "plan", "auto"]);
  assert.deepEqual(modesToOffer(view, "acceptEdits"), ["acceptEdits", "default", "plan", "auto"]);
  assert.ok(modesToOffer(undefined, "default").includes("dontAsk"));
  assert.deepEqual(modelsToOffer(view, "claude-sonnet-5-5").map((m) => m.value), ["default", "sonnet", "plain"]);
  assert.deepEqual(modelsToOffer(view, "custom-x").map((m) => m.value), ["custom-x", "default", "sonnet", "plain"]);
  assert.deepEqual(effortsFor(view, "sonnet"), ["low"]);
  assert.deepEqual(effortsFor(view, null), ["low", "high"]);
  assert.deepEqual(effortsFor(view, "plain"), []);
  assert.deepEqual(effortsFor(undefined, "x"), ["low", "medium", "high", "xhigh", "max"]);
});
