// The permission modes the session's Claude Code accepts (`session.capabilities`), not a frozen
// list: `bypassPermissions` only when the server allows it; the pinned CLI's modes until known.

import * as connection from "../connection";
import { capabilitiesOf, modesToOffer } from "../capabilities";
import type { Session } from "../types";

export function ModePicker({ s, disabled }: { s: Session; disabled: boolean }) {
  const current = String(s.permission_mode ?? "default");
  const modes = modesToOffer(capabilitiesOf(s.id), current);
  return (
    <label class="mode">
      <span class="sr">Permission mode</span>
      <select
        aria-label="Permission mode"
        value={current}
        disabled={disabled}
        onChange={(e) => connection.act("session.set_permission_mode", { session_id: s.id, permission_mode: e.currentTarget.value }, "Changing the permission mode")}
      >
        {modes.map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
    </label>
  );
}
