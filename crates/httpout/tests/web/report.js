// The measurement shared by the player pages (hls.html, dash.html): the
// page's query gives `src` (the stream), `secs` (how long to play) and
// `report` (where to PUT the JSON report when done). Every second a sample
// of the player's state is kept; stalls and errors are counted; at the end
// the report is PUT back to the origin, which the test reads from disk.
'use strict';
const query = new URLSearchParams(location.search);
const src = query.get('src');
const secs = Number(query.get('secs') || 60);
const reportUrl = query.get('report');
const video = document.getElementById('video');
const t0 = performance.now();
const now = () => Math.round(performance.now() - t0) / 1000;
const report = {
  player: null,
  version: null,
  src,
  secs,
  h264: window.MediaSource ? MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001e"') : false,
  // Seconds since the page started when the video first played.
  started: null,
  // One a second: {t, latency, currentTime, bufferedEnd, rate, ...}.
  samples: [],
  // `waiting` events of the video after it first played: {t, currentTime}.
  waiting: [],
  // The player's own stall reports (hls.js BUFFER_STALLED_ERROR...).
  stalls: [],
  // The player's errors (the first 50): {t, type, details, fatal}.
  errors: [],
  // The requests the player made, by kind (hls.js only).
  requests: { playlists: 0, blocking: 0, skip: 0, parts: 0, segments: 0, other: 0, examples: [], timing: {} },
  done: null,
};
video.addEventListener('playing', () => {
  if (report.started === null) report.started = now();
});
video.addEventListener('waiting', () => {
  if (report.started !== null) report.waiting.push({ t: now(), currentTime: video.currentTime });
});
function error(type, details, fatal) {
  if (report.errors.length < 50) report.errors.push({ t: now(), type: String(type), details: String(details), fatal: !!fatal });
}
function bufferedEnd() {
  const b = video.buffered;
  return b.length ? b.end(b.length - 1) : null;
}
// Runs `sample()` (the player's extra fields) every second for `secs`
// seconds, then `stop()` and PUTs the report.
function measure(sample, stop) {
  const timer = setInterval(() => {
    const s = { t: now(), currentTime: video.currentTime, bufferedEnd: bufferedEnd(), rate: video.playbackRate, paused: video.paused };
    try { Object.assign(s, sample()); } catch (e) { s.sampleError = String(e); }
    report.samples.push(s);
  }, 1000);
  setTimeout(async () => {
    clearInterval(timer);
    try { stop(); } catch (e) { error('stop', e, false); }
    report.done = now();
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await fetch(reportUrl, { method: 'PUT', body: JSON.stringify(report), headers: { 'Content-Type': 'application/json' } });
        if (r.ok) break;
      } catch (e) { console.log('report PUT failed', e); }
    }
    document.title = 'done';
  }, secs * 1000);
}
