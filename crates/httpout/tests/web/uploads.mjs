// Uploads from headless Chromium, for tests/uploads_web.rs: Debian's
// Chromium driven through puppeteer-core (no browser download). Prints one
// JSON report on stdout; exits non-zero, saying why on stderr, when a step
// fails or the whole run outlasts its bound.
//
//   node uploads.mjs form PAGE SHOT FILE...
//     Opens the listing PAGE, chooses FILEs in its upload form and submits
//     it with the upload throttled, screenshots the page (PNG at SHOT)
//     while every bar is between 20 % and 90 %, then waits for each row's
//     final state. With SHOT `-`, only the final states.
//   node uploads.mjs tus PAGE ENDPOINT SIZE
//     On PAGE's origin, uploads SIZE pseudo-random bytes with tus-js-client
//     to ENDPOINT (a directory URL), aborts at 40 %, resumes from the
//     stored fingerprint, and reports the offset it resumed from and the
//     SHA-256 of what it sent.

import { fileURLToPath } from "node:url";
import path from "node:path";
import { bound, launch } from "./chromium.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const [mode, ...args] = process.argv.slice(2);
bound("uploads.mjs", "UPLOADS_WEB_LIMIT_MS", 120000);

const browser = await launch();
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.error(`page: ${m.text()}`));
  await page.setViewport({ width: 800, height: 420 });
  const report = mode === "form" ? await form(page, ...args) : await tus(page, ...args);
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}

async function form(page, url, shot, ...files) {
  await page.goto(url);
  // 2 MB/s up: a few seconds for the test's files, time to see the bars.
  await page.emulateNetworkConditions({ download: -1, upload: 2e6, latency: 0 });
  const input = await page.$("#upload input[type=file]");
  await input.uploadFile(...files);
  await page.click("#upload button[type=submit]");
  const bars = () =>
    [...document.querySelectorAll("#uploads tr")].map((tr) => ({
      name: tr.cells[0].textContent,
      fraction: tr.querySelector("progress").value / tr.querySelector("progress").max,
      state: tr.className,
      text: tr.cells[2].textContent,
    }));
  const during = shot === "-" ? [] : await midway(page, files.length, bars);
  if (shot !== "-") await page.screenshot({ path: shot });
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll("#uploads tr")].every((tr) => tr.className !== "receiving"),
    { timeout: 60000, polling: 50 },
  );
  return { during, after: await page.evaluate(bars) };
}

// The rows once each of the `n` bars is between 20 % and 90 %.
async function midway(page, n, bars) {
  await page.waitForFunction(
    (n) => {
      const rows = [...document.querySelectorAll("#uploads tr")];
      return (
        rows.length === n &&
        rows.every((tr) => {
          const bar = tr.querySelector("progress");
          return bar.value / bar.max >= 0.2 && bar.value / bar.max <= 0.9;
        })
      );
    },
    { timeout: 60000, polling: 20 },
    n,
  );
  return page.evaluate(bars);
}

async function tus(page, url, endpoint, size) {
  await page.goto(url);
  await page.addScriptTag({ path: path.join(here, "node_modules/tus-js-client/dist/tus.min.js") });
  return page.evaluate(
    async (endpoint, size) => {
      // Pseudo-random bytes (xorshift32): nothing compresses, the same each run.
      const bytes = new Uint8Array(size);
      let x = 2463534242;
      for (let i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        bytes[i] = x & 0xff;
      }
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      const sha256 = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
      const file = new File([bytes], "tus.bin", { type: "application/octet-stream" });
      const options = {
        endpoint,
        chunkSize: Math.ceil(size / 10),
        retryDelays: null,
        metadata: { filename: "tus.bin", filetype: "application/octet-stream" },
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
      };
      // First try: aborted once 40 % is sent.
      const first = await new Promise((resolve, reject) => {
        let aborted = false;
        const upload = new tus.Upload(file, {
          ...options,
          onProgress(sent, total) {
            if (!aborted && sent >= 0.4 * total) {
              aborted = true;
              upload.abort().then(() => resolve(upload.url), reject);
            }
          },
          onError: reject,
          onSuccess: () => reject(new Error("the upload ended before it could be aborted")),
        });
        upload.start();
      });
      const head = await fetch(first, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
      const offset = Number(head.headers.get("Upload-Offset"));
      // Second try: a new Upload finds the first by its fingerprint.
      const second = await new Promise((resolve, reject) => {
        const upload = new tus.Upload(file, {
          ...options,
          onError: reject,
          onSuccess: () => resolve(upload.url),
        });
        upload.findPreviousUploads().then((previous) => {
          if (!previous.length) return reject(new Error("no previous upload stored"));
          upload.resumeFromPreviousUpload(previous[0]);
          upload.start();
        }, reject);
      });
      return { sha256, first, second, offset, size };
    },
    endpoint,
    Number(size),
  );
}
