// "Continue in terminal": the command that takes the session's conversation over in a terminal
// (`cd <folder> && claude --resume <id>`, given by the server) and Release, which stops the
// session's process so the terminal may take over (the session stays).

import { useState } from "preact/hooks";
import * as connection from "../connection";
import { toast, useAppState } from "../store";
import type { Session } from "../types";

export function TerminalPanel({ s }: { s: Session & { terminal_command?: string | null } }) {
  const st = useAppState();
  const [copied, setCopied] = useState(false);
  const command = s.terminal_command;
  if (!command) return null;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
    } catch {
      toast("Copying is not allowed here: select the command and copy it");
    }
  };
  const released = s.status === "stopped";
  return (
    <details class="terminal">
      <summary>Continue in terminal</summary>
      <p class="small muted">
        Release the session here, then run this on the machine. The session stays: you can continue it here later.
      </p>
      <code class="command">{command}</code>
      <div class="row">
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy command"}
        </button>
        <button
          type="button"
          disabled={st.conn !== "online"}
          onClick={() => connection.act("session.release", { session_id: s.id }, "Release")}
        >
          Release
        </button>
        {released && <span class="small muted">Released: the terminal may take it over.</span>}
      </div>
    </details>
  );
}
