// The session's model and effort level, from what its Claude Code offers (`session.capabilities`):
// a change goes to the live process (`session.set_model`) or applies at its next start. Until the
// CLI has said, the current model is shown and efforts are the pinned CLI's.

import * as connection from "../connection";
import { capabilitiesOf, effortsFor, modelsToOffer } from "../capabilities";
import type { Session } from "../types";

export function ModelPicker({ s, disabled }: { s: Session; disabled: boolean }) {
  const view = capabilitiesOf(s.id);
  const models = modelsToOffer(view, s.model);
  const model = s.model ?? "";
  const efforts = effortsFor(view, s.model);
  const effort = s.effort ?? "";
  const set = (fields: { model: string; effort?: string }) =>
    connection.act("session.set_model", { session_id: s.id, ...fields }, "Changing the model");
  return (
    <>
      <label class="mode">
        <span class="sr">Model</span>
        <select aria-label="Model" value={model} disabled={disabled || models.length === 0} onChange={(e) => set({ model: e.currentTarget.value })}>
          {!model && <option value="">CLI default model</option>}
          {models.map((m) => (
            <option key={m.value} value={m.value} title={m.description ?? ""}>
              {m.display_name || m.value}
            </option>
          ))}
        </select>
      </label>
      {efforts.length > 0 && (
        <label class="mode">
          <span class="sr">Effort</span>
          <select
            aria-label="Effort"
            value={effort}
            disabled={disabled}
            onChange={(e) => set({ model: model || "default", effort: e.currentTarget.value })}
          >
            {!effort && <option value="">default effort</option>}
            {efforts.map((x) => (
              <option key={x} value={x}>
                {x}
              </option>
            ))}
          </select>
        </label>
      )}
    </>
  );
}
