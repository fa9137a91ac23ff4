// The demo page: files a request through the JSON API (with the CSRF
// token, tools/web/assets/http.js) and lists the requests the event
// stream announces, its own included.
import { send } from '/assets/http.js';

const form = document.getElementById('new-request');
const title = document.getElementById('title');
const status = document.getElementById('status');
const live = document.getElementById('live');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = title.value.trim();
  if (!text) {
    status.className = 'status error';
    status.textContent = 'Le titre est obligatoire.';
    title.setAttribute('aria-invalid', 'true');
    title.focus();
    return;
  }
  title.removeAttribute('aria-invalid');
  try {
    const answer = await send('/api/demo/requests', { title: text });
    status.className = 'status ok';
    status.textContent = `${answer.message}\u00a0: ${answer.title}`;
    title.value = '';
  } catch (error) {
    status.className = 'status error';
    status.textContent = `La demande n’a pas été déposée\u00a0: ${error.message}`;
  }
});

const stream = new EventSource('/api/events');
stream.addEventListener('request', (event) => {
  const request = JSON.parse(event.data);
  const item = document.createElement('li');
  item.textContent = request.title;
  live.append(item);
});
