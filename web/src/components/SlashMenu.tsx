// Slash-command completion for the composer: typing `/` lists the session's Claude Code commands
// (and skills) from its capabilities; arrows and Tab/Enter pick one with the keyboard, a tap picks
// one by touch, Escape closes the list. A pick puts `/name ` in the message box. Names and
// descriptions come from the CLI and are shown as text nodes only.

import { useState } from "preact/hooks";
import type { JSX } from "preact";
import { capabilitiesOf, matchCommands, slashQuery, type SlashCommand } from "../capabilities";

export interface SlashCompletion {
  /** The list to render above the message box, or null. */
  menu: JSX.Element | null;
  /** The message box's keydown: true when the list used the key. */
  onKeyDown: (e: KeyboardEvent) => boolean;
}

export function useSlashCompletion(sessionId: string, text: string, setText: (t: string) => void, focus: () => void): SlashCompletion {
  const [active, setActive] = useState(0);
  const [closedFor, setClosedFor] = useState<string | null>(null);
  const query = slashQuery(text);
  const commands = capabilitiesOf(sessionId)?.capabilities?.commands ?? [];
  const matches = query === null || closedFor === text ? [] : matchCommands(commands, query);
  const index = Math.min(active, Math.max(matches.length - 1, 0));

  const pick = (c: SlashCommand) => {
    setText(`/${c.name} `);
    setActive(0);
    focus();
  };

  const onKeyDown = (e: KeyboardEvent): boolean => {
    if (matches.length === 0) return false;
    const chosen = matches[index];
    switch (e.key) {
      case "ArrowDown":
        setActive((index + 1) % matches.length);
        break;
      case "ArrowUp":
        setActive((index - 1 + matches.length) % matches.length);
        break;
      case "Tab":
      case "Enter":
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey || e.shiftKey)) return false;
        if (chosen) pick(chosen);
        break;
      case "Escape":
        setClosedFor(text);
        break;
      default:
        return false;
    }
    e.preventDefault();
    return true;
  };

  const menu =
    matches.length === 0 ? null : (
      <ul class="slashmenu" role="listbox" id="slash-commands" aria-label="Slash commands">
        {matches.map((c, i) => (
          <li
            key={c.name}
            role="option"
            aria-selected={i === index}
            class={i === index ? "active" : ""}
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => pick(c)}
          >
            <span class="cmd">/{c.name}</span>
            {c.argument_hint && <span class="hint"> {c.argument_hint}</span>}
            {c.description && <span class="desc small muted">{c.description}</span>}
          </li>
        ))}
      </ul>
    );
  return { menu, onKeyDown };
}
