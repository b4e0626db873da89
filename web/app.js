// The demo page: buttons and a progress bar in front of the worker that runs pagekv.

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const waiting = new Map();
let nextId = 1;

worker.onmessage = (ev) => {
  const m = ev.data;
  if (m.progress !== undefined) {
    $("progress").value = m.progress;
    return;
  }
  const w = waiting.get(m.id);
  waiting.delete(m.id);
  if (m.ok) w.resolve(m.result);
  else w.reject(new Error(m.error));
};

function call(cmd, args) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, cmd, args });
  });
}

const fmt = (n) => Math.round(n).toLocaleString("en-US");
const buttons = ["load", "clear", "lookup", "scan", "reads", "refresh"];

function busy(on) {
  for (const b of buttons) $(b).disabled = on;
  document.body.dataset.busy = on ? "1" : "0";
}

function showStats(s) {
  const rows = Object.entries(s).map(
    ([k, v]) => `<tr><td>${k}</td><td>${typeof v === "number" ? fmt(v) : v}</td></tr>`,
  );
  $("stats").innerHTML = rows.join("");
}

async function run(what, fn) {
  busy(true);
  try {
    await fn();
    $("status").textContent = `Ready (${what} done).`;
    $("status").className = "";
  } catch (e) {
    $("status").textContent = `${what} failed: ${e.message}`;
    $("status").className = "error";
  } finally {
    busy(false);
  }
}

$("load").onclick = () =>
  run("load", async () => {
    $("progress").value = 0;
    const r = await call("load");
    $("load-result").textContent =
      `${fmt(r.records)} records in ${fmt(r.ms)} ms: ${fmt(r.perSec)} records/s`;
    showStats(r.stats);
  });

$("clear").onclick = () => run("clear", async () => showStats(await call("clear")));

$("lookup").onclick = () =>
  run("lookup", async () => {
    const r = await call("lookup", { key: $("key").value });
    $("lookup-result").textContent =
      r.value === null
        ? `${r.key}: not found (${r.us.toFixed(0)} us)`
        : `${r.key} = ${r.value}  (${r.us.toFixed(0)} us)`;
  });

$("scan").onclick = () =>
  run("scan", async () => {
    const r = await call("scan", { prefix: $("prefix").value });
    const lines = r.entries.map(([k, v]) => `${k} = ${v}`);
    if (r.total > r.entries.length) lines.push(`… ${fmt(r.total - r.entries.length)} more`);
    $("scan-result").textContent =
      `${fmt(r.total)} keys in ${r.ms.toFixed(1)} ms\n${lines.join("\n")}`;
  });

$("reads").onclick = () =>
  run("reads", async () => {
    const r = await call("reads");
    $("reads-result").textContent =
      r.gets === 0
        ? "load some records first"
        : `${fmt(r.getsPerSec)} gets/s, ${fmt(r.scansPerSec)} scans of 100 keys/s`;
    if (r.stats) showStats(r.stats);
  });

$("refresh").onclick = () => run("stats", async () => showStats(await call("stats")));

run("open", async () => {
  const s = await call("open");
  showStats(s);
  $("status").textContent = `Ready: ${fmt(s.records)} records in OPFS.`;
}).then(() => {
  document.body.dataset.ready = "1";
});
