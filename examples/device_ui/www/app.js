// The thermostat dashboard: live readings over a WebSocket, settings over the REST API.
'use strict';

const $ = (id) => document.getElementById(id);

function showSettings(s) {
  $('name').textContent = s.name;
  $('target').textContent = s.target;
  $('name-input').value = s.name;
  $('target-input').value = s.target;
}

function connectLive() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(scheme + '//' + location.host + '/ws/live');
  ws.onopen = () => { $('state').textContent = 'live'; };
  ws.onmessage = (event) => {
    const reading = JSON.parse(event.data);
    $('temperature').textContent = reading.temperature.toFixed(2);
  };
  ws.onclose = () => {
    $('state').textContent = 'reconnecting…';
    setTimeout(connectLive, 2000);
  };
}

$('settings').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = JSON.stringify({ name: $('name-input').value, target: Number($('target-input').value) });
  const resp = await fetch('/api/settings', {
    method: 'PUT',
    headers: {
      'Content-Type': 'application/json',
      'X-Requested-With': 'fetch',
      'Authorization': 'Basic ' + btoa($('user').value + ':' + $('password').value),
    },
    body,
  });
  if (resp.ok) {
    showSettings(await resp.json());
    $('saved').textContent = 'saved';
  } else {
    $('saved').textContent = resp.status === 401 ? 'refused: wrong login' : 'error ' + resp.status;
  }
});

$('config').addEventListener('submit', async (event) => {
  event.preventDefault();
  const file = $('config-file').files[0];
  if (!file) return;
  const resp = await fetch('/config', {
    method: 'POST',
    headers: {
      'X-Requested-With': 'fetch',
      'Authorization': 'Basic ' + btoa($('user').value + ':' + $('password').value),
    },
    body: file,
  });
  $('uploaded').textContent = resp.ok ? 'stored ' + (await resp.json()).stored + ' bytes' : 'error ' + resp.status;
});

fetch('/api/settings').then((r) => r.json()).then(showSettings);
connectLive();
