// The console's behaviour: the segment builder, the composer's preview, the live campaign page,
// the import page.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

function postJson(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
    body: JSON.stringify(body),
    credentials: "same-origin",
  }).then((response) => response.json().then((data) => ({ ok: response.ok, data })));
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// ---- Segment builder -------------------------------------------------------------------

function startBuilder(root) {
  const catalog = JSON.parse(document.getElementById("catalog").textContent);
  const fields = Object.fromEntries(catalog.fields.map((f) => [f.field, f]));
  const tree = { logic: "AND", rules: [newRule()] };
  const previewUrl = root.dataset.previewUrl;

  function newRule() {
    return { field: "total_spends", operator: ">=", value: "", key: "" };
  }

  function typed(rule) {
    const field = fields[rule.field];
    const raw = String(rule.value).trim();
    if (["exists", "not_exists"].includes(rule.operator)) return null;
    // An empty value is sent as none, for the server to say so at its rule (never as 0).
    if (raw === "") return null;
    if (["older_than_days", "within_last_days"].includes(rule.operator)) return Number(raw);
    if (["in", "not_in"].includes(rule.operator)) return raw.split(",").map((s) => s.trim()).filter(Boolean);
    const scalar = (text) => {
      if (field.type === "number") return Number(text);
      if (field.type === "any") {
        if (text === "true" || text === "false") return text === "true";
        if (text !== "" && !Number.isNaN(Number(text))) return Number(text);
      }
      return text;
    };
    if (rule.operator === "between") return raw.split(",").map((s) => scalar(s.trim()));
    return scalar(raw);
  }

  function toJson(node) {
    if (node.rules) return { logic: node.logic, rules: node.rules.map(toJson) };
    const name = fields[node.field].type === "any" ? `attributes.${node.key}` : node.field;
    const out = { field: name, operator: node.operator, value: typed(node) };
    if (node.within_days) out.within_days = Number(node.within_days);
    return out;
  }

  function select(label, options, value, onChange) {
    const id = nextId("sel");
    const box = el("select", { id, class: "form-select form-select-sm" },
      options.map(([v, text]) => { const o = el("option", { value: v, text }); o.selected = v === value; return o; }));
    box.addEventListener("change", () => onChange(box.value));
    return el("div", { class: "col-auto" }, [el("label", { for: id, class: "visually-hidden", text: label }), box]);
  }

  function input(label, value, onInput, attributes = {}) {
    const id = nextId("in");
    const box = el("input", { id, class: "form-control form-control-sm", value, ...attributes });
    box.addEventListener("input", () => onInput(box.value));
    return el("div", { class: "col rule-input" }, [el("label", { for: id, class: "visually-hidden", text: label }), box]);
  }

  function button(text, style, onClick, label) {
    const b = el("button", { type: "button", class: `btn btn-sm btn-${style}`, text });
    if (label) b.setAttribute("aria-label", label);
    b.addEventListener("click", onClick);
    return b;
  }

  // Each rule's inputs by the path the server names a problem at ("rules[1].rules[0].value").
  let inputsAt = {};

  function at(path, box) {
    inputsAt[path] = box.querySelector("input, select");
    return box;
  }

  function ruleRow(rule, parent, path) {
    const field = fields[rule.field];
    const row = el("div", { class: "row g-1 align-items-center mb-1 rule" });
    row.append(at(`${path}.field`, select("Field", catalog.fields.map((f) => [f.field, f.field]), rule.field, (v) => {
      rule.field = v;
      if (!fields[v].operators.includes(rule.operator)) rule.operator = fields[v].operators[0];
      changed(true);
    })));
    if (field.type === "any") {
      row.append(input("Attribute key", rule.key, (v) => { rule.key = v; changed(false); },
        { placeholder: "key", list: "attribute-keys" }));
    }
    row.append(at(`${path}.operator`, select("Operator", field.operators.map((o) => [o, o]), rule.operator, (v) => { rule.operator = v; changed(true); })));
    if (!["exists", "not_exists"].includes(rule.operator)) {
      const hint = ["in", "not_in", "between"].includes(rule.operator) ? "values, comma-separated" : "value";
      row.append(at(`${path}.value`, input("Value", rule.value, (v) => { rule.value = v; changed(false); }, { placeholder: hint })));
    }
    if (field.takes_within_days) {
      row.append(at(`${path}.within_days`, input("Within days", rule.within_days || "", (v) => { rule.within_days = v; changed(false); },
        { placeholder: "in last N days", type: "number", min: "1" })));
    }
    row.append(el("div", { class: "col-auto" }, [button("×", "outline-danger", () => {
      parent.rules.splice(parent.rules.indexOf(rule), 1);
      changed(true);
    }, "Remove this rule")]));
    return row;
  }

  function groupBox(group, parent, path) {
    const box = el("fieldset", { class: `rule-group logic-${group.logic} mb-2` });
    const head = el("div", { class: "row g-1 align-items-center mb-1" });
    head.append(el("legend", { class: "col-auto fs-6 mb-0", text: parent ? "Group:" : "Customers matching" }));
    head.append(select("Combine with", [["AND", "all of (AND)"], ["OR", "any of (OR)"], ["NOT", "none of (NOT)"]],
      group.logic, (v) => { group.logic = v; changed(true); }));
    box.append(head);
    group.rules.forEach((child, i) => {
      const place = `${path ? `${path}.` : ""}rules[${i}]`;
      box.append(child.rules ? groupBox(child, group, place) : ruleRow(child, group, place));
    });
    const actions = el("div", { class: "d-flex gap-1 mb-1" });
    actions.append(button("+ Rule", "outline-primary", () => { group.rules.push(newRule()); changed(true); }));
    actions.append(button("+ Group", "outline-secondary", () => {
      group.rules.push({ logic: "OR", rules: [newRule()] });
      changed(true);
    }));
    if (parent) {
      actions.append(button("Remove group", "outline-danger", () => {
        parent.rules.splice(parent.rules.indexOf(group), 1);
        changed(true);
      }));
    }
    box.append(actions);
    return box;
  }

  function render() {
    inputsAt = {};
    root.replaceChildren(groupBox(tree, null, ""),
      el("datalist", { id: "attribute-keys" }, (catalog.attributes || []).map((a) => el("option", { value: a.field.replace("attributes.", "") }))));
  }

  const size = document.getElementById("audience-size");
  const summary = document.getElementById("audience-summary");
  const problem = document.getElementById("audience-error");
  const sample = document.querySelector("#audience-sample tbody");
  const hidden = document.getElementById("audience-rules");

  const preview = debounce(() => {
    const body = toJson(tree);
    hidden.value = JSON.stringify(body);
    size.setAttribute("aria-busy", "true");
    postJson(previewUrl, body).then(({ ok, data }) => {
      size.removeAttribute("aria-busy");
      problem.classList.toggle("d-none", ok);
      for (const box of Object.values(inputsAt)) {
        box.classList.remove("is-invalid");
        box.removeAttribute("aria-invalid");
        box.removeAttribute("aria-describedby");
      }
      for (const path of Object.keys((!ok && data.errors) || {})) {
        const box = inputsAt[path];
        if (!box) continue;
        box.classList.add("is-invalid");
        box.setAttribute("aria-invalid", "true");
        box.setAttribute("aria-describedby", "audience-error");
      }
      if (!ok) {
        // The size and sample of rules that are no longer on screen would mislead.
        problem.textContent = data.message;
        size.textContent = "—";
        delete size.dataset.size;
        summary.textContent = "";
        sample.replaceChildren();
        return;
      }
      size.textContent = data.size.toLocaleString("en");
      size.dataset.size = data.size;
      summary.textContent = data.summary;
      sample.replaceChildren(...data.sample.map((m) => el("tr", {}, [el("td", { text: m.name }), el("td", { text: m.email })])));
    });
  }, 350);

  function changed(structure) {
    if (structure) render();
    hidden.value = JSON.stringify(toJson(tree));
    preview();
  }

  render();
  changed(false);
}

// ---- Campaign composer -----------------------------------------------------------------

function startComposer(form) {
  const message = form.querySelector("#message");
  const audience = form.querySelector("#audience");
  const list = document.getElementById("message-preview");
  const problem = document.getElementById("message-error");
  // Where a variable goes: the caret as the writer last left it, else the end.
  let caret = [message.value.length, message.value.length];
  const keep = () => { caret = [message.selectionStart, message.selectionEnd]; };
  ["keyup", "click", "select", "input"].forEach((name) => message.addEventListener(name, keep));
  form.querySelectorAll("[data-insert]").forEach((b) => b.addEventListener("click", () => {
    const [start, end] = caret;
    message.value = message.value.slice(0, start) + b.dataset.insert + message.value.slice(end);
    message.focus();
    message.selectionStart = message.selectionEnd = start + b.dataset.insert.length;
    keep();
    refresh();
  }));
  const refresh = debounce(() => {
    if (!audience.value) return;
    postJson(form.dataset.previewUrl, { audience_id: audience.value, message: message.value }).then(({ ok, data }) => {
      problem.classList.toggle("d-none", ok);
      if (!ok) { problem.textContent = data.message; return; }
      list.replaceChildren(...data.rendered.map((r) => el("li", { class: "list-group-item" }, [
        el("div", { class: "small text-body-secondary", text: r.customer_id }), el("div", { text: r.text })])));
    });
  }, 350);
  message.addEventListener("input", refresh);
  audience.addEventListener("change", refresh);
  refresh();
  // The chosen audience's members, counted when asked (a saved audience's size goes stale).
  const size = document.getElementById("audience-size");
  audience.addEventListener("change", () => {
    size.textContent = "";
    if (!audience.value) return;
    const chosen = audience.value;
    const url = `${size.dataset.url}?audience_id=${encodeURIComponent(chosen)}`;
    fetch(url, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
      if (audience.value !== chosen || data.size == null) return;
      size.textContent = `${data.size.toLocaleString("en")} customer${data.size === 1 ? "" : "s"} now`;
    });
  });
}

// ---- Test message ---------------------------------------------------------------------

function newKey() {
  // Works on plain http too, where crypto.randomUUID does not.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function startTestMessage(form) {
  const result = document.getElementById("test-result");
  const button = form.querySelector("button[type=submit]");
  // One key per attempt: kept while the answer is awaited (a second click, a retry after a
  // network error re-sends it, and the server sends nothing more), renewed once answered.
  let key = newKey();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    result.replaceChildren(el("span", { class: "text-body-secondary", text: "Sending…" }));
    const body = {
      idempotency_key: key,
      customer_id: form.querySelector("#test-customer").value,
      message: document.getElementById("message").value,
    };
    postJson(form.dataset.url, body).then(({ ok, data }) => {
      key = newKey();
      if (!ok) {
        result.replaceChildren(el("div", { class: "alert alert-warning mb-0", text: data.message }));
        return;
      }
      const good = data.status === "ACCEPTED";
      result.replaceChildren(el("div", { class: `alert alert-${good ? "success" : "danger"} mb-0` }, [
        el("div", { text: `${data.status}: to ${data.to}${data.reason ? ` (${data.reason})` : ""}` }),
        el("div", { class: "small", text: data.body })]));
      result.dataset.status = data.status;
    }).catch(() => {
      result.replaceChildren(el("div", { class: "alert alert-warning mb-0", text: "No answer; press Send test again to retry (it is not sent twice)." }));
    }).finally(() => { button.disabled = false; });
  });
}

// ---- Live campaign page ----------------------------------------------------------------

const SETTLED = ["COMPLETED", "CANCELLED"];

function startCampaign(page) {
  const bar = page.querySelector(".progress-bar");
  const meter = document.getElementById("campaign-progress");
  function show(data) {
    const { done, total, rate_per_second: rate, eta_seconds: eta } = data.progress;
    bar.style.width = `${total ? Math.round((100 * done) / total) : 0}%`;
    meter.setAttribute("aria-valuenow", done);
    meter.setAttribute("aria-valuemax", total);
    document.getElementById("campaign-done").textContent = done.toLocaleString("en");
    document.getElementById("campaign-total").textContent = total.toLocaleString("en");
    document.getElementById("campaign-rate").textContent = rate == null ? "—" : `${rate.toFixed(1)}/s`;
    document.getElementById("campaign-eta").textContent = eta == null ? "—" : `${Math.ceil(eta)} s`;
    const badge = document.getElementById("campaign-status");
    badge.textContent = data.badge.text;
    badge.className = `badge text-bg-${data.badge.tone}`;
    badge.dataset.status = data.status;
    page.dataset.status = data.status;
    for (const [name, n] of Object.entries(data.stats)) {
      const cell = page.querySelector(`[data-count="${name}"]`);
      if (cell) cell.textContent = n;
    }
    for (const step of data.funnel) {
      page.querySelector(`[data-funnel="${step.key}"]`).textContent = step.value;
      page.querySelector(`[data-funnel-cell="${step.key}"]`).textContent = step.value;
      page.querySelector(`[data-funnel-bar="${step.key}"]`).setAttribute("width", `${step.percent}%`);
    }
    page.querySelectorAll("form[data-when]").forEach((f) => { f.hidden = !f.dataset.when.split(" ").includes(data.status); });
  }
  const chart = document.getElementById("deliveries");
  function redrawDeliveries() {
    // The chart comes drawn from the server; a table someone opened stays open.
    fetch(chart.dataset.url, { credentials: "same-origin" }).then((r) => r.text()).then((html) => {
      const open = chart.querySelector("details[open]") !== null;
      chart.innerHTML = html;
      const details = chart.querySelector("details");
      if (details) details.open = open;
    });
  }
  // Counts every 2 s; the chart, which reads the messages settled lately, every 10 s and
  // once more when the campaign settles.
  let polls = 0;
  function poll() {
    fetch(page.dataset.progressUrl, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
      show(data);
      const settled = SETTLED.includes(data.status);
      if (settled || polls++ % 5 === 0) redrawDeliveries();
      if (!settled) setTimeout(poll, 2000);
    });
  }
  bar.style.width = `${bar.dataset.total > 0 ? Math.round((100 * bar.dataset.done) / bar.dataset.total) : 0}%`;
  poll();
}

// ---- Import form: a preview of the file before it is imported ------------------------

function startImportForm(form) {
  const file = form.querySelector("#import-file");
  const kind = form.querySelector("#import-kind");
  const start = form.querySelector("#import-start");
  const box = document.getElementById("import-preview");
  const limit = Number(form.dataset.previewBytes);
  let asked = 0;
  start.disabled = true;
  function preview() {
    const chosen = file.files[0];
    const ask = ++asked;
    start.disabled = true;
    if (!chosen) { box.replaceChildren(); return; }
    // Only the file's start travels for the preview; the whole file goes with Start import.
    const body = new FormData();
    body.append("csrf_token", csrfToken);
    body.append("kind", kind.value);
    body.append("complete", chosen.size <= limit ? "true" : "false");
    body.append("file", chosen.slice(0, limit, chosen.type), chosen.name);
    box.replaceChildren(el("p", { class: "text-body-secondary", text: "Reading the file…" }));
    fetch(form.dataset.previewUrl, { method: "POST", body, credentials: "same-origin" })
      .then((r) => r.text().then((html) => ({ ok: r.ok, html })))
      .then(({ ok, html }) => {
        if (ask !== asked) return;
        box.innerHTML = html;
        start.disabled = !ok || box.querySelector("#preview-problem") !== null;
      });
  }
  file.addEventListener("change", preview);
  kind.addEventListener("change", preview);
}

// ---- Import page ----------------------------------------------------------------------

const IMPORT_SETTLED = ["DONE", "FAILED"];

function startImport(page) {
  const bar = page.querySelector(".progress-bar");
  const meter = document.getElementById("import-progress");
  const rejections = document.querySelector("#import-rejections tbody");
  const problem = document.getElementById("import-error");
  function show(data) {
    bar.style.width = `${data.progress.percent}%`;
    meter.setAttribute("aria-valuenow", data.progress.chunks_done);
    meter.setAttribute("aria-valuemax", data.progress.chunks);
    document.getElementById("import-status").textContent = data.status;
    for (const [name, n] of Object.entries(data.counts)) {
      const cell = page.querySelector(`[data-count="${name}"]`);
      if (cell) cell.textContent = n;
    }
    problem.classList.toggle("d-none", !data.error);
    problem.textContent = data.error || "";
    const rows = data.rejections.flatMap((r) => r.errors.map((e) => el("tr", {}, [
      el("td", { text: r.row }), el("td", { text: e.field }),
      el("td", { class: "rejected-value", text: e.value === undefined ? "—" : e.value }), el("td", { text: e.message })])));
    rejections.replaceChildren(...(rows.length ? rows : [el("tr", {}, [el("td", { colspan: "4", text: "None." })])]));
  }
  function poll() {
    fetch(page.dataset.progressUrl, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
      show(data);
      if (!IMPORT_SETTLED.includes(data.status)) setTimeout(poll, 2000);
    });
  }
  bar.style.width = `${bar.dataset.percent}%`;
  if (page.dataset.settled !== "true") poll();
}

const builder = document.getElementById("builder");
if (builder) startBuilder(builder);
const composer = document.getElementById("composer");
if (composer) startComposer(composer);
const testMessage = document.getElementById("test-message");
if (testMessage) startTestMessage(testMessage);
const campaign = document.getElementById("campaign");
if (campaign) startCampaign(campaign);
const importForm = document.getElementById("import-form");
if (importForm) startImportForm(importForm);
const importPage = document.getElementById("import");
if (importPage) startImport(importPage);
