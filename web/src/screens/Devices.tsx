import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { toast, useAppState } from "../store";
import type { Device } from "../types";

function when(ts: string | null | undefined): string {
  if (!ts) return "never";
  const d = new Date(ts);
  return isNaN(d.getTime()) ? ts : d.toLocaleString();
}

export function DevicesScreen() {
  const st = useAppState();
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api<{ devices: Device[] }>("/api/v1/devices").then(
      (d) => {
        setDevices(d.devices);
        setError(null);
      },
      (e) => setError(`Could not list devices: ${e.message}`),
    );
  useEffect(() => void load(), [st.conn === "online"]);

  const revoke = async (d: Device) => {
    const msg = d.current
      ? `Revoke this device (${d.name})? It will be signed out.`
      : `Revoke ${d.name}? It will be signed out at once.`;
    if (!confirm(msg)) return;
    try {
      await api(`/api/v1/devices/${encodeURIComponent(d.id)}`, { method: "DELETE" });
      toast(`${d.name} revoked`);
      void load();
    } catch (e) {
      toast(`Revoke failed: ${e instanceof Error ? e.message : e}`);
    }
  };

  return (
    <main class="screen">
      <h1>Devices</h1>
      <p>
        <a href="#/notifications">Notification settings</a> <span class="muted small">for this device and your sessions</span>
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {devices === null && !error && <p class="muted">Loading…</p>}
      <ul class="devices">
        {devices?.map((d) => (
          <li key={d.id} class="device">
            <div>
              <strong>{d.name}</strong>
              {d.current && <span class="badge"> this device</span>}
            </div>
            <div class="meta">
              Paired {when(d.created_at)} · last seen {when(d.last_seen_at)}
            </div>
            <button type="button" class="danger" aria-label={`Revoke ${d.name}`} onClick={() => revoke(d)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
      <p class="muted small">
        To add a device, run <code>pocket-relay pair</code> on the computer and open its link on the new device.
      </p>
    </main>
  );
}
