// The live sink's status page in headless Chromium, for
// tests/live_admin.rs: Debian's Chromium through puppeteer-core.
//
//   node live_status.mjs PAGE TITLE
//     Opens PAGE (`/status.xsl`), waits until its table follows the
//     WebSocket, prints `ready` on stderr, then waits (without reloading)
//     until a row shows TITLE; prints the rows and whether the page was
//     reloaded, as JSON on stdout.
import { bound, launch } from "./chromium.mjs";

const [url, title] = process.argv.slice(2);
bound("live_status.mjs", "LIVE_STATUS_LIMIT_MS", 60000);

const browser = await launch();
try {
  const page = await browser.newPage();
  let loads = 0;
  page.on("load", () => loads++);
  await page.goto(url);
  await page.waitForSelector("#streams[data-live=websocket]", { timeout: 20000 });
  console.error("ready");
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#streams td")].some((td) => td.textContent === t),
    { timeout: 30000, polling: 100 },
    title,
  );
  const rows = await page.evaluate(() =>
    [...document.querySelectorAll("#streams tr")].slice(1).map((tr) =>
      [...tr.cells].map((td) => td.textContent),
    ),
  );
  console.log(JSON.stringify({ rows, loads }));
} finally {
  await browser.close();
}
