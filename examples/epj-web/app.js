// The demo EHR's page: plain JS, no build step. Tokens never reach the browser: the backend
// (/epj/api, played by helsesim) holds them, as a web EHR's backend does.
"use strict";

const $ = (id) => document.getElementById(id);
const CONSENT = { SAMTYKKE: "HPMOTTATTSAMTYKKE", AKUTT: "HPAKUTT", UNNTAK: "HPUNNTAK" };
const state = { patient: null, sfm: null, messages: [] };
// What SFM's client posted, for a curious developer (and the browser test).
window.epjMessages = state.messages;

async function call(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const json = await response.json().catch(() => ({}));
  if (!response.ok && response.status !== 401) {
    throw new Error(json.message || json.brukermelding || `${response.status} ${path}`);
  }
  return { status: response.status, json };
}

function showError(error) {
  $("error").textContent = String(error.message || error);
  $("error").hidden = false;
}

function status(text) {
  $("status").textContent = text;
}

async function start() {
  const { status: code, json } = await call("GET", "/epj/api/session");
  if (code === 401) {
    $("welcome").hidden = false;
    return;
  }
  const c = json.clinician;
  $("who").textContent = `${c.name} (HPR ${c.hpr_number || "–"}) · org. ${json.organisation}`;
  $("logout").hidden = false;
  $("journal").hidden = false;
  // As NHN's WebEPJSampleApp: a ping every four minutes lets the backend renew the tokens and
  // hand them to SFM and Kjernejournal before they expire (SFM requirement 2.4.5).
  setInterval(() => call("POST", "/epj/api/keepalive").catch(showError), 240000);
  const list = $("patients");
  for (const p of json.patients) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.pid = p.pid;
    button.textContent = `${p.name} (${p.pid})`;
    button.addEventListener("click", () => selectPatient(p, button).catch(showError));
    li.append(button);
    list.append(li);
  }
}

async function selectPatient(patient, button) {
  closeFrame(false);
  document.querySelectorAll("#patients button").forEach((b) => b.classList.remove("selected"));
  button.classList.add("selected");
  state.patient = patient;
  // Requirement 2.4.4: the EHR always shows the patient's name and id outside SFM's frame.
  $("patient-name").textContent = patient.name;
  $("patient-pid").textContent = patient.pid;
  $("patient").hidden = false;
  status("");
  await Promise.all([indicator(), medication()]);
}

async function indicator() {
  const icon = $("kj-icon");
  icon.className = "kj";
  icon.disabled = true;
  const samtykke = CONSENT[$("access-basis").value];
  const { json } = await call("POST", `/epj/api/patients/${state.patient.pid}/indicator`, { samtykke })
    .catch((e) => ({ json: { status: 0, brukermelding: e.message } }));
  const level = Number.isInteger(json.status) && json.status <= 4 ? json.status : 0;
  icon.classList.add(`kj-${level}`);
  icon.dataset.status = String(level);
  icon.title = json.returTekst || json.brukermelding || "";
  // Statuses 2-4 open the portal; 0 (error) and 1 (no kjernejournal) do not.
  icon.disabled = level < 2;
}

async function medication() {
  const { json } = await call("GET", `/epj/api/patients/${state.patient.pid}/medication`);
  const body = document.querySelector("#medication tbody");
  body.replaceChildren();
  for (const m of json.medication || []) {
    const row = document.createElement("tr");
    for (const value of [m.name, m.status, m.dosage]) {
      const cell = document.createElement("td");
      cell.textContent = value == null ? "" : String(value);
      row.append(cell);
    }
    body.append(row);
  }
}

function frame(src, title) {
  closeFrame(false);
  const iframe = document.createElement("iframe");
  iframe.id = "embedded";
  iframe.title = title;
  iframe.src = src;
  $("frame-area").append(iframe);
  $("close-frame").hidden = false;
  iframe.focus();
  return iframe;
}

function closeFrame(reload) {
  $("frame-area").replaceChildren();
  $("close-frame").hidden = true;
  state.sfm = null;
  status("");
  if (reload && state.patient) {
    medication().catch(showError);
  }
}

async function openKjernejournal() {
  const access_basis = $("access-basis").value;
  const { json } = await call("POST", `/epj/api/patients/${state.patient.pid}/kjernejournal`, { access_basis });
  frame(json.url, "Kjernejournal");
  status("Kjernejournal er åpnet for pasienten.");
}

async function openSfm() {
  const { json } = await call("POST", `/epj/api/patients/${state.patient.pid}/sfm`);
  // SFM's client is opened on the portal URL as it is, without parameters; the rest goes by
  // postMessage, to the portal's origin only.
  state.sfm = { ...json, origin: new URL(json.portal).origin, frame: frame(json.portal, "SFM") };
  status("SFM lastes …");
}

window.addEventListener("message", (event) => {
  const sfm = state.sfm;
  if (!sfm || event.origin !== sfm.origin || event.source !== sfm.frame.contentWindow) {
    return;
  }
  const data = event.data || {};
  state.messages.push(data);
  const post = (message) => sfm.frame.contentWindow.postMessage(message, sfm.origin);
  if (data.clientLoaded === "success") {
    post({ action: "login", code: sfm.code, nonce: sfm.nonce, apiEndpoint: sfm.apiEndpoint });
  } else if (data.login === "success") {
    post({ action: "setPatient", ticket: sfm.ticket, showAllergies: true, onBehalfOf: "" });
  } else if (data.setPatient === "success") {
    status("SFM viser pasienten.");
  }
});

$("kj-icon").addEventListener("click", () => openKjernejournal().catch(showError));
$("open-sfm").addEventListener("click", () => openSfm().catch(showError));
$("close-frame").addEventListener("click", () => closeFrame(true));
$("access-basis").addEventListener("change", () => state.patient && indicator().catch(showError));
start().catch(showError);
