// DOM helpers both pages' main threads use (index.html → main.ts, chat.html → chat.ts): element lookup,
// escaping, a key/value table, and the shared status line with its progress bar (ids 'status', 'progress').

/** The element with `id`. */
export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** `s` with HTML's special characters escaped. */
export const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A two-column table of already-formatted HTML cells. */
export const table = (rows: [string, string][]) => `<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;

/** Status text, with the progress bar at `fraction` (or indeterminate without one). */
export function setStatus(text: string, fraction?: number): void {
  $('status').textContent = text;
  const bar = $<HTMLProgressElement>('progress');
  if (fraction === undefined) bar.removeAttribute('value'); else bar.value = fraction;
}

/** Shows `message` as the status line's error and empties the progress bar. */
export function showError(message: string): void {
  $('status').innerHTML = `<span class="bad">Error:</span> ${esc(message)}`;
  $<HTMLProgressElement>('progress').value = 0;
}
