// Calls the node's API from a page. State-changing requests carry the
// session's CSRF token (X-CSRF-Token), read once from GET /api/session:
// the session cookie itself is HttpOnly, and no other site can read that
// answer. See docs/web.md.

let csrfToken = null;

async function token() {
  if (csrfToken === null) {
    const response = await fetch('/api/session', { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`session: ${response.status}`);
    csrfToken = (await response.json()).csrf_token;
  }
  return csrfToken;
}

// Sends a JSON body with `method` (POST by default) and returns the
// parsed answer; throws an Error carrying the server's reason.
export async function send(path, body, method = 'POST') {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': await token() },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let answer = null;
  try { answer = text ? JSON.parse(text) : null; } catch { answer = { error: text }; }
  if (!response.ok) {
    throw new Error(answer && answer.error ? answer.error : `${response.status}`);
  }
  return answer;
}

// Reads JSON from `path`.
export async function get(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}
