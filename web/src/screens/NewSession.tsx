import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import * as connection from "../connection";
import { go } from "../router";
import { useAppState } from "../store";
import { PERMISSION_MODES } from "../types";
import { folderName } from "./Sessions";

interface DirList {
  path: string;
  parent: string | null;
  dirs: { name: string; path: string }[];
}

export function NewSessionScreen() {
  const st = useAppState();
  const [roots, setRoots] = useState<string[]>([]);
  const [recent, setRecent] = useState<string[]>([]);
  const [browse, setBrowse] = useState<DirList | null>(null);
  const [cwd, setCwd] = useState("");
  const [title, setTitle] = useState("");
  const [mode, setMode] = useState("default");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<{ roots: string[]; recent: string[] }>("/api/v1/dirs").then(
      (d) => {
        setRoots(d.roots ?? []);
        setRecent(d.recent ?? []);
        if (!cwd && d.recent?.[0]) setCwd(d.recent[0]);
      },
      (e) => setError(`Folders unavailable: ${e.message}`),
    );
  }, [st.conn === "online"]);

  const open = async (path: string) => {
    setError(null);
    try {
      const d = await api<DirList>(`/api/v1/dirs?path=${encodeURIComponent(path)}`);
      setBrowse(d);
      setCwd(d.path);
    } catch (e) {
      setError(`Cannot open ${path}: ${e instanceof Error ? e.message : e}`);
    }
  };

  const create = async (ev: Event) => {
    ev.preventDefault();
    if (!cwd.trim()) {
      setError("Choose a folder first.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const fields: Record<string, unknown> = { cwd: cwd.trim(), permission_mode: mode };
      if (title.trim()) fields.title = title.trim();
      const s = await connection.createSession(fields);
      go(`#/s/${encodeURIComponent(s.id)}`);
    } catch (e) {
      setError(`Could not create the session: ${e instanceof Error ? e.message : e}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="screen">
      <h1>New session</h1>
      <form onSubmit={create} class="stack">
        <label>
          Folder
          <input type="text" value={cwd} onInput={(e) => setCwd(e.currentTarget.value)} autocomplete="off" autocapitalize="off" spellcheck={false} required />
        </label>

        {recent.length > 0 && (
          <section aria-label="Recent folders">
            <h2>Recent</h2>
            <ul class="dirs">
              {recent.map((p) => (
                <li key={p}>
                  <button type="button" class={p === cwd ? "dir chosen" : "dir"} aria-pressed={p === cwd} onClick={() => { setCwd(p); setBrowse(null); }}>
                    <span>{folderName(p)}</span> <small>{p}</small>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}

        <section aria-label="Browse folders">
          <h2>Browse</h2>
          {!browse && (
            <ul class="dirs">
              {roots.map((p) => (
                <li key={p}>
                  <button type="button" class="dir" onClick={() => open(p)}>
                    <span>{p}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {browse && (
            <div>
              <p class="path">{browse.path}</p>
              <ul class="dirs">
                {browse.parent && (
                  <li>
                    <button type="button" class="dir" onClick={() => open(browse.parent!)}>
                      <span>↑ Up</span>
                    </button>
                  </li>
                )}
                {browse.dirs.map((d) => (
                  <li key={d.path}>
                    <button type="button" class="dir" onClick={() => open(d.path)} aria-label={`Open ${d.name}`}>
                      <span>{d.name}/</span>
                    </button>
                  </li>
                ))}
                {browse.dirs.length === 0 && <li class="muted">No subfolders.</li>}
              </ul>
              <button type="button" class="link" onClick={() => setBrowse(null)}>
                Back to roots
              </button>
            </div>
          )}
        </section>

        <label>
          Title (optional)
          <input type="text" value={title} onInput={(e) => setTitle(e.currentTarget.value)} maxLength={200} />
        </label>
        <label>
          Permission mode
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
            {PERMISSION_MODES.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <a href="#/" class="button">
            Cancel
          </a>
          <button type="submit" class="primary" disabled={busy || st.conn !== "online"}>
            Create
          </button>
        </div>
      </form>
    </main>
  );
}
