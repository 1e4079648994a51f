// The page of a supplier's submission link: it reads the request and
// sends the figure through the REST API, the link's token as the
// credential. The token is in this page's path (/submit/{token}).
"use strict";

const token = decodeURIComponent(location.pathname.replace(/^\/submit\//, ""));
const api = "/v1/supplierRequests/" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);

function show(text) {
  $("status").textContent = text;
}

// failure is the message of a google.rpc.Status answer, and its field
// violations.
async function failure(resp) {
  let body = {};
  try { body = await resp.json(); } catch (e) { /* not JSON */ }
  const fields = [];
  for (const d of body.details || []) {
    for (const v of d.fieldViolations || []) fields.push(v.field + ": " + v.description);
  }
  return { message: body.message || resp.statusText, fields };
}

const states = {
  SUBMISSION_STATE_PENDING: "awaiting review",
  SUBMISSION_STATE_ACCEPTED: "accepted",
  SUBMISSION_STATE_REJECTED: "rejected",
};

function render(req) {
  $("requester").textContent = req.requesterDisplayName;
  $("supplier").textContent = req.supplierDisplayName || req.supplier.replace(/^suppliers\//, "");
  $("campaign").textContent = req.campaignDisplayName;
  $("expires").textContent = new Date(req.expireTime).toLocaleString();
  $("left").textContent = String(req.submissionsLeft || 0);
  $("request").hidden = false;
  $("form").hidden = !req.submissionsLeft;
  const rows = $("rows");
  rows.replaceChildren();
  for (const s of req.submissions || []) {
    const f = s.supplierFactor || {};
    const tr = document.createElement("tr");
    const what = f.kind === "SUPPLIER_FACTOR_KIND_PRODUCT" ? "product " + f.productId + ", per " + f.declaredUnit : "company, per USD";
    let state = states[s.state] || s.state;
    if (s.rejectReason) state += ": " + s.rejectReason;
    for (const [text, cls] of [[new Date(s.createTime).toLocaleDateString(), ""], [what + ", " + f.reportingYear, ""],
      [f.kgCo2ePerUnit, "num"], [state, ""]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    rows.append(tr);
  }
  $("sent").hidden = !(req.submissions || []).length;
  show(req.submissionsLeft ? "" : "No more figures can be sent through this link.");
}

async function load() {
  const resp = await fetch(api, { headers: { Accept: "application/json" } });
  if (!resp.ok) {
    const f = await failure(resp);
    show(resp.status === 410 ? "This link has expired: ask for a new one." : f.message);
    return;
  }
  render(await resp.json());
}

function figure(form) {
  const v = (name) => form.elements[name].value.trim();
  const f = {
    kind: v("kind"), kgCo2ePerUnit: v("kgCo2ePerUnit"), reportingYear: Number(v("reportingYear")) || 0,
    validFrom: v("validFrom"), validTo: v("validTo"), verified: form.elements.verified.checked,
  };
  if (f.kind === "SUPPLIER_FACTOR_KIND_PRODUCT") {
    Object.assign(f, { productId: v("productId"), declaredUnit: v("declaredUnit"), primaryDataShare: v("primaryDataShare"), boundary: v("boundary") });
  }
  return f;
}

async function send(event) {
  event.preventDefault();
  const form = event.target;
  const errors = $("errors");
  errors.replaceChildren();
  const body = {
    supplierFactor: figure(form), contactName: form.elements.contactName.value,
    contactEmail: form.elements.contactEmail.value, comment: form.elements.comment.value,
  };
  const resp = await fetch(api + ":submit", {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
  });
  if (!resp.ok) {
    const f = await failure(resp);
    for (const text of f.fields.length ? f.fields : [f.message]) {
      const li = document.createElement("li");
      li.textContent = text;
      errors.append(li);
    }
    return;
  }
  form.reset();
  await load();
  show("Sent: it is reviewed before it is used.");
}

document.addEventListener("DOMContentLoaded", () => {
  const form = $("form");
  form.elements.kind.addEventListener("change", () => {
    $("product").hidden = form.elements.kind.value !== "SUPPLIER_FACTOR_KIND_PRODUCT";
  });
  form.addEventListener("submit", send);
  load().catch((e) => show("The request could not be read: " + e));
});
